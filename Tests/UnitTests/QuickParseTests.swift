import ArgumentParser
import FreezectlCLI
import Testing

/// freezectl parses the everyday lines of pause, unpause and status without ArgumentParser
/// (QuickParse, for start-up time). It must never read a line differently: every line it accepts
/// gives exactly the command values ArgumentParser makes of it, every field set (an unset one
/// prints as a definition); every other line it leaves to ArgumentParser.
@Suite("QuickParse: the same commands ArgumentParser makes, or none")
struct QuickParseTests {
    /// The command ArgumentParser makes of `line`, printed with every option's value; nil when it
    /// refuses the line.
    private func parsedByArgumentParser(_ line: [String]) -> String? {
        guard let command = try? Freezectl.parseAsRoot(line) else { return nil }
        return String(describing: command)
    }

    @Test(arguments: [
        "pause /sys/fs/cgroup/unified/web", "pause -q /sys/fs/cgroup/unified/web", "unpause --quiet runc:web pid:1",
        "status", "status runc:web", "status --format json runc:web", "status -a", "unpause --format=json cgroup:/a",
        "pause --timeout 500ms runc:a", "pause --timeout=1m --atomic runc:a runc:b", "unpause --all --filter label=auto_resume=true --filter memory-below=80%",
        "pause --verbose -q --format table web", "status --filter=runtime=runc", "pause docker:web", "unpause runc:a --timeout 2s -q",
        "pause -q --runtime-root /run/x runc:a", "pause -q --direct --filter label=a=b", "unpause --direct docker:web", "status --runtime-root=/run/x --runtime-root /run/y --filter label=a",
    ])
    func acceptsTheEverydayLines(_ text: String) throws {
        let line = text.split(separator: " ").map(String.init)
        let quick = try #require(QuickParse.command(line), "QuickParse takes '\(text)'")
        let expected = try #require(parsedByArgumentParser(line), "ArgumentParser takes '\(text)'")
        #expect(String(describing: quick) == expected)
        #expect(!String(describing: quick).contains("definition"))
    }

    @Test(arguments: [
        "", "--help", "-h", "--version", "help pause", "pause", "unpause --format yaml web", "pause -qa runc:a", "pause -q -q runc:a",
        "pause --quiet=true runc:a", "pause -- runc:a", "pause --timeout -5s runc:a", "pause --timeout 0s runc:a", "status --timeout 5s runc:a",
        "pause --host unix:///run/x.sock runc:a", "pause --parallel 3 runc:a", "status --direct docker:a", "pause --direct=yes docker:a", "unpause --health-cmd true runc:a",
        "pause pid:0", "pause runc:a --format", "status --atomic", "pause --filter bogus=1", "pause --namespace k8s.io --all", "--host x status",
        "status -x", "pause -f label=a", "status --all --all", "pause --runtime-root runc:a",
    ])
    func leavesEveryOtherLineToArgumentParser(_ text: String) {
        let line = text.split(separator: " ").map(String.init)
        #expect(QuickParse.command(line) == nil, "'\(text)' goes to ArgumentParser")
    }

    /// Lines drawn from the words of both grammars: whatever QuickParse accepts, ArgumentParser
    /// reads the same.
    @Test func agreesWithArgumentParserOnGeneratedLines() {
        let verbs = ["pause", "unpause", "status"]
        let words = ["-q", "--quiet", "--verbose", "--format", "json", "table", "yaml", "--format=json", "--format=", "--timeout", "5s",
                     "500ms", "--timeout=1m", "-5s", "0s", "25h", "--all", "-a", "--atomic", "--filter", "label=a=b", "status=paused", "bogus",
                     "--filter=runtime=runc", "memory-below=80%", "/sys/fs/cgroup/unified/x", "cgroup:/a", "runc:web", "pid:1", "pid:0",
                     "docker:d", "web", "--", "-h", "--help", "--parallel", "7", "--direct", "-qa", "--quiet=yes", "--host", "help", "", "-",
                     "--runtime-root", "/run/x", "--runtime-root=/run/y"]
        var random = SplitMix64(seed: 16)
        var accepted = 0
        for _ in 0..<2500 {
            var line = [random.pick(verbs)]
            for _ in 0..<random.below(7) { line.append(random.pick(words)) }
            guard let quick = QuickParse.command(line) else { continue }
            accepted += 1
            #expect(String(describing: quick) == parsedByArgumentParser(line), "\(line)")
        }
        #expect(accepted > 250, "the generator reaches QuickParse's grammar")
    }
}

/// A small seeded generator: the same lines on every run.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}
