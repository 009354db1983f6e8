import CgroupFreezer
import Testing

@Suite("/proc/PID/stat as freezectl splits it")
struct ProcStatTests {
    /// A stat line with the given command name; field 22 (the start time) is 4242.
    func line(name: String) -> String {
        "77 (\(name)) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000 10 18446744073709551615"
    }

    @Test func theLastParenthesisEndsTheName() throws {
        let fields = try #require(ProcStat.fields(statText: line(name: "a) Z 9 (b")))
        #expect(fields.first == "S")
        #expect(fields[19] == "4242")
    }

    /// A process chooses its name (prctl PR_SET_NAME): a prepending mark (U+0600) before a `)`
    /// or a space makes one Character of both, which hid the name's end from a Character-wise
    /// split and let the name's own text be read as the state and the start time.
    @Test(arguments: ["x) Z 1\u{600}", "\u{600}", "a \u{600}"])
    func aNameOfPrependingMarksCannotForgeFields(_ name: String) throws {
        let fields = try #require(ProcStat.fields(statText: line(name: name)))
        #expect(fields.first == "S")
        #expect(fields[19] == "4242")
        #expect(fields.allSatisfy { !$0.utf8.contains(UInt8(ascii: " ")) })
    }
}
