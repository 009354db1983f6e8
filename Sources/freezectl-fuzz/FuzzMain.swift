import FuzzHarnesses

// Two builds of one program. `scripts/fuzz.sh` builds it with -sanitize=fuzzer,address and
// -DFUZZING: libFuzzer then drives the harness named by FREEZECTL_FUZZ (its own options and
// corpus directories on the command line). Any other build replays files through a harness,
// which is how a crashing input is checked again by hand: `freezectl-fuzz HARNESS FILE...`.

#if FUZZING
import CFuzzDriver
import Glibc

/// The harness libFuzzer's callback runs (a C callback cannot capture it). Set once, before
/// the driver starts.
nonisolated(unsafe) private var selected: Harness = .mountinfo

// SwiftPM makes `main` an alias of `<module>_main`; libFuzzer's driver takes over from there.
@_cdecl("freezectl_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    selectHarness()
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in testOneInput(data, size) }
}

// Where the linker takes libFuzzer's own `main` instead of that alias (lld in a debug build
// resolves `main` from libFuzzer's archive before the alias), libFuzzer calls these two.
@_cdecl("LLVMFuzzerInitialize")
func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    selectHarness()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.run(UnsafeBufferPointer(start: data, count: size))
    return 0
}

/// The harness FREEZECTL_FUZZ names; without one, the list of them and exit 2.
private func selectHarness() {
    guard let name = getenv("FREEZECTL_FUZZ").map({ String(cString: $0) }), let harness = Harness(rawValue: name) else {
        let usage = "freezectl-fuzz: set FREEZECTL_FUZZ to one of: \(Harness.allCases.map(\.rawValue).joined(separator: ", "))\n"
        _ = usage.withCString { write(2, $0, strlen($0)) }
        exit(2)
    }
    selected = harness
}
#else
import Foundation

@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let harness = Harness(rawValue: name) else {
            FileHandle.standardError.write(Data("usage: freezectl-fuzz HARNESS FILE...\nharnesses: \(Harness.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("freezectl-fuzz: cannot read \(path)\n".utf8))
                exit(1)
            }
            harness.run(Array(data))
            print("\(harness.rawValue): \(path): ok")
        }
    }
}
#endif
