import CommandSyntax
import FreezectlReports
import Testing

@Suite("Durations as the CLI takes them")
struct DurationTests {
    @Test func unitsAndBounds() throws {
        #expect(try DurationArgument.parse("500ms", option: "--timeout") == .milliseconds(500))
        #expect(try DurationArgument.parse("10s", option: "--timeout") == .seconds(10))
        #expect(try DurationArgument.parse("1.5m", option: "--timeout") == .seconds(90))
        #expect(try DurationArgument.parse("1us", option: "--timeout") == .microseconds(1))
        #expect(try DurationArgument.parse("24h", option: "--timeout") == .seconds(86_400))
        #expect(try DurationArgument.parse("0s", option: "--health-start-period", allowZero: true) == .zero)
    }

    @Test(arguments: ["0s", "-5s", "25h", "1e300s", "0.0001us", "10", "ten s", "nan s", "inf s", ""])
    func outOfRangeOrMalformedIsAUsageErrorNamingTheOption(_ text: String) {
        #expect(throws: (any Error).self) { try DurationArgument.parse(text, option: "--timeout") }
        do {
            _ = try DurationArgument.parse(text, option: "--timeout")
        } catch {
            #expect("\(error)".contains("--timeout"))
        }
    }
}
