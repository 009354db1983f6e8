import CgroupFreezer
import CommandSyntax
import FreezectlCLI
import Foundation
import Testing

/// freezectl's one command-line parser (FreezectlCLI/CommandLine): what a line means, what is
/// refused (as a usage error naming the word, exit 2), and that help shows every option the
/// parser takes.
@Suite("The command line: one parser for both executables")
struct CommandLineTests {
    private func parse(_ text: String) throws -> any ServedCommand {
        try Freezectl.parse(text.split(separator: " ").map(String.init))
    }

    /// The usage error `text` gives (its message), or nil when it parses.
    private func refusal(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch let error as UsageError {
            return error.message
        } catch {
            return "not a usage error: \(error)"
        }
    }

    @Test("a pause line: every option read, in any order, long or short, with = or a separate value")
    func pauseLine() throws {
        let pause = try #require(try parse("pause -q --timeout=500ms runc:a --filter label=x=y -f status=paused --runtime-root /run/x --atomic --direct --parallel 7 --audit-log /tmp/a.jsonl --audit-required --format json --verbose pid:4") as? Pause).batchCommand
        #expect(pause.targets.targets == [try TargetSpec(parsing: "runc:a"), .pid(4)])
        #expect(pause.targets.filters == ["label=x=y", "status=paused"])
        #expect(pause.targets.sources.runtimeRoots == ["/run/x"])
        #expect(pause.operation.timeout == .milliseconds(500))
        #expect(pause.batch.atomic && pause.batch.direct && pause.batch.parallel == 7)
        #expect(pause.audit.auditLog == "/tmp/a.jsonl" && pause.audit.auditRequired)
        #expect(pause.common.format == .json && pause.common.quiet && pause.common.verbose)
        #expect(pause.host == nil && !pause.lease.hold && pause.lease.duration == nil)

        let defaults = try #require(try parse("pause cgroup:/a") as? Pause).batchCommand
        #expect(defaults.operation.timeout == CgroupFreezer.defaultTimeout && defaults.batch.parallel == BatchFlags.defaultParallel)
        #expect(defaults.common.format == .table && !defaults.common.quiet && !defaults.batch.atomic)
    }

    @Test("bundled short flags, --host before the command, --hold's COMMAND after --, -- ending the options")
    func grammar() throws {
        let all = try #require(try parse("--host unix:///run/f.sock unpause -qa") as? Unpause).batchCommand
        #expect(all.common.quiet && all.targets.all && all.host == "unix:///run/f.sock")
        let held = try #require(try Freezectl.parse(["pause", "--hold", "web", "--", "pg_dump", "-f", "x", "db"]) as? Pause).batchCommand
        #expect(held.lease.hold && held.lease.command == ["pg_dump", "-f", "x", "db"] && held.targets.targets.count == 1)
        // After --, "-q" is a target (malformed), not the flag.
        let afterTerminator = refusal("status -- -q")
        #expect(afterTerminator?.contains("\"-q\"") == true && afterTerminator?.contains("Unknown option") == false, "\(afterTerminator ?? "parsed")")
        let after = try #require(try parse("status --host unix:///run/f.sock runc:a") as? Status)
        #expect(after.root.host == "unix:///run/f.sock", "--host after pause, unpause or status, as before it")
        #expect(refusal("--host unix:///a.sock pause --host unix:///b.sock runc:a")?.contains("more than once") == true)
        #expect(refusal("--host unix:///a.sock --host=unix:///b.sock status")?.contains("more than once") == true)
        #expect(refusal("checkpoint runc:a --images-dir /i --host unix:///a.sock")?.contains("'--host'") == true)
        let filtered = try #require(try parse("status -flabel=a") as? Status)
        #expect(filtered.targets.filters == ["label=a"])
    }

    @Test("refused lines: each a usage error naming the word and what to do", arguments: [
        ("pause", "Missing expected argument"), ("pause -x runc:a", "'-x'"), ("pause --bogus runc:a", "'--bogus'"),
        ("pause --quiet=yes runc:a", "'--quiet' is a flag"), ("pause runc:a --format", "Missing value for '--format"),
        ("pause --format yaml runc:a", "table, json"), ("pause --format json --format table runc:a", "more than once"),
        ("pause --timeout -5s runc:a", "--timeout"), ("pause --timeout 0s runc:a", "--timeout"), ("status --timeout 5s runc:a", "'--timeout'"),
        ("pause --parallel 0 runc:a", "--parallel must be from 1"), ("pause --parallel many runc:a", "whole number"),
        ("pause pid:0", "pid:0"), ("pause --filter bogus=1", "bogus"), ("unpause --hold runc:a", "'--hold'"),
        ("pause --hold runc:a", "needs a command after --"), ("pause runc:a -- true", "only with --hold"),
        ("checkpoint", "'<target>'"), ("checkpoint runc:a runc:b --images-dir /x", "Unexpected argument 'runc:b'"),
        ("checkpoint runc:a", "--images-dir"), ("restore --images-dir /x --paused", "--paused needs --cgroup"),
        ("bogus", "Unknown command 'bogus'"), ("--hostx status", "'--hostx'"), ("--host", "Missing value for '--host"),
        ("unpause --on-unhealthy maybe runc:a", "fail, refreeze, ignore"), ("criu-hook x", "Unexpected argument 'x'"),
    ])
    func refused(_ line: String, _ says: String) {
        let message = refusal(line)
        #expect(message?.contains(says) == true, "'\(line)': \(message ?? "parsed")")
    }

    @Test("help and version are requests, not errors, wherever -h or --help stands")
    func helpRequests() throws {
        for line in ["", "--help", "-h", "help"] {
            #expect(throws: HelpRequest.self, "'\(line)'") { try parse(line) }
        }
        for line in ["pause --help", "pause runc:a -h", "help pause", "status --all --help"] {
            do {
                _ = try parse(line)
                Issue.record("'\(line)' parsed")
            } catch let help as HelpRequest {
                #expect(help.command?.name == line.split(separator: " ").first { $0 != "help" }.map(String.init), "'\(line)'")
            } catch {
                Issue.record("'\(line)': \(error)")
            }
        }
        #expect(throws: Freezectl.PrintRequest.self) { try parse("--version") }
    }

    @Test("every command's help names each option it takes, its arguments and its usage")
    func helpShowsEveryOption() {
        for spec in Freezectl.commands {
            let help = CommandHelp.text(for: spec)
            #expect(help.contains("USAGE: freezectl \(spec.name)"))
            for option in spec.groups.flatMap(\.options) {
                #expect(help.contains("--\(option.long)"), "\(spec.name) --help shows --\(option.long)")
            }
            if let arguments = spec.arguments { #expect(help.contains("<\(arguments.value)>")) }
            #expect(help.split(separator: "\n").allSatisfy { $0.count <= 80 || !$0.contains(" ") }, "\(spec.name): lines wrap at 80")
        }
        let root = CommandHelp.text(for: Freezectl.program)
        #expect(Freezectl.commands.allSatisfy { root.contains("  \($0.name) ") } && root.contains("--host <url>"))
    }

    @Test("man pages and completions name every command and option help shows, and bash reads its script")
    func docsFromTheSameSpecs() throws {
        let program = Freezectl.program
        for name in CommandDocs.pageNames(program) {
            let page = try #require(CommandDocs.manualPage(name, of: program, date: "2026-12-07"), "\(name)")
            #expect(page.hasPrefix(".TH \(name.uppercased()) 1 \"2026-12-07\""))
            let spec = program.commands.first { $0.pageName == name }
            let options = spec.map { $0.groups.flatMap(\.options) } ?? program.options
            for option in options {
                #expect(page.contains("\\-\\-" + option.long.split(separator: "-").joined(separator: "\\-")), "\(name): --\(option.long)")
            }
        }
        #expect(CommandDocs.manualPage("freezectl.nope", of: program, date: "x") == nil)
        for shell in ["bash", "zsh", "fish"] {
            let script = try #require(CommandDocs.completionScript(shell, of: program))
            for spec in program.commands {
                #expect(script.contains(spec.name), "\(shell): \(spec.name)")
                for option in spec.groups.flatMap(\.options) { #expect(script.contains("\(option.long)"), "\(shell): --\(option.long)") }
            }
        }
        let bash = Process()
        bash.executableURL = URL(fileURLWithPath: "/bin/bash")
        bash.arguments = ["-n", "-c", try #require(CommandDocs.completionScript("bash", of: program))]
        try bash.run()
        bash.waitUntilExit()
        #expect(bash.terminationStatus == 0, "bash -n reads the completion script")
        #expect(CommandDocs.completionScript("tcsh", of: program) == nil)
    }

    @Test("no two options of a command share a name")
    func namesAreUnique() {
        for spec in Freezectl.commands {
            let options = spec.groups.flatMap(\.options)
            #expect(Set(options.map(\.long)).count == options.count, "\(spec.name)")
            let shorts = options.compactMap(\.short)
            #expect(Set(shorts).count == shorts.count, "\(spec.name)")
        }
    }

    @Test("a parsed line decides its executable through the one rule")
    func lineToServer() throws {
        let noEngines = HandoffRuleTests.noEngines
        #expect(Handoff.server(for: try parse("pause -q cgroup:/x").needs, environment: noEngines) == .freezectl)
        #expect(Handoff.server(for: try parse("status runc:web").needs, environment: noEngines) == .freezectl)
        for line in ["unpause cgroup:/x --health-cmd true", "pause --for 1s cgroup:/x", "--host unix:///x.sock status",
                     "checkpoint cgroup:/x --images-dir /tmp/i", "pause docker:web", "unpause unit:a.service"] {
            #expect(Handoff.server(for: try parse(line).needs, environment: noEngines) == .freezectlEngines, "'\(line)'")
        }
    }
}
