import Foundation
import Testing
import VoiceBridgeCarriers

@Suite struct YAMLNestingTests {
    @Test func flowBracketsCountAndQuotesCommentsAndBlockScalarsDoNot() {
        #expect(YAMLNesting.deepest(in: "a: [1, [2, {b: 3}]]") == 4)
        #expect(YAMLNesting.deepest(in: #"a: "[[[[[[" # [[[["#) == 1)
        #expect(YAMLNesting.deepest(in: "a: '[[[it''s]]]'") == 1)
        #expect(YAMLNesting.deepest(in: #"a: "say \"[[[\" now""#) == 1)
        #expect(YAMLNesting.deepest(in: "say: |\n  [[[[[[\n   {{{{\n\nnext: 1") == 1)
        #expect(YAMLNesting.deepest(in: "say: >-\n  [[[[[[\nnext: [1]") == 2)
    }

    @Test func blockIndentationAndCompactSequencesCount() {
        #expect(YAMLNesting.deepest(in: "a:\n  b:\n    c: 1\n  d: 2\n") == 3)
        #expect(YAMLNesting.deepest(in: "- - - x\n") == 4)
        #expect(YAMLNesting.deepest(in: String(repeating: "- ", count: 200) + "x") > YAMLNesting.limit)
    }

    /// The fuzz-found crash: Yams recursed once per level until the stack ran out.
    @Test func thousandsOfBracketsAreAProblemNotACrash() throws {
        let problem = try #require(YAMLNesting.problem(in: String(repeating: "[", count: 5000)))
        #expect(problem.contains("at most \(YAMLNesting.limit)"))
        #expect(YAMLNesting.problem(in: String(repeating: "{a: ", count: 60) + "1" + String(repeating: "}", count: 60)) == nil)
    }

    @Test func everyShippedYAMLFileIsFarBelowTheLimit() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var checked = 0
        for dir in ["config", "config/flows", "fixtures/fuzz/flow"] {
            let url = root.appendingPathComponent(dir)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [] where name.hasSuffix(".yaml") {
                let text = try String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
                #expect(YAMLNesting.deepest(in: text) < 16, "\(dir)/\(name)")
                checked += 1
            }
        }
        #expect(checked >= 3)
    }
}
