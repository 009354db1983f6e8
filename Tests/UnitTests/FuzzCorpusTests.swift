import Foundation
import FuzzHarnesses
import Testing

/// The fuzz corpus (Fuzz/Corpus/<harness>/), seeds and every input that once crashed a harness,
/// replayed through the harnesses on every test run: a fixed crash stays fixed.
@Suite("Fuzz corpus: every committed input keeps its harness's properties")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus")

    @Test("each harness has seeds, and replays them without a violated property", arguments: Harness.allCases)
    func replay(_ harness: Harness) throws {
        let directory = Self.corpus.appendingPathComponent(harness.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(!names.isEmpty, "no seeds in \(directory.path)")
        for name in names {
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            harness.run(Array(data))
        }
    }
}
