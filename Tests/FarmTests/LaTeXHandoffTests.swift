import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Testing

/// A video's LaTeX is compiled once, by its planning pass, and handed to its renders (`farm-tex/`), which then
/// compile nothing; a render that compiles its own draws the same frames; the bundles stay out of the cache keys.
@Suite(.serialized) struct LaTeXHandoffTests {
    static let script = #"""
        from manim import *

        class First(Scene):
            def construct(self):
                self.play(Write(MathTex(r"a^2 + b^2 = c^2")), run_time=0.4)

        class Second(Scene):
            def construct(self):
                shared = MathTex(r"a^2 + b^2 = c^2")
                self.play(FadeIn(shared), run_time=0.3)
                self.play(Transform(shared, MathTex(r"\int_0^1 x\,dx = \tfrac{1}{2}")), run_time=0.3)
        """#

    /// What each render's Manim said about its LaTeX, from the agents' JSON log lines ("render done").
    static func latexOfRenders(_ farm: FarmHarness, video: String) throws -> [ManimStages] {
        let logs = try FileManager.default.contentsOfDirectory(atPath: farm.directory.path).filter { $0.hasPrefix("agent-") && $0.hasSuffix(".log") }
        var found: [ManimStages] = []
        for name in logs {
            let text = try String(contentsOf: farm.directory.appendingPathComponent(name), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("{") {
                guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      entry["message"] as? String == "render done", (entry["task"] as? String)?.hasPrefix(video) == true,
                      let fields = entry["fields"] as? [String: Any], let stages = fields["stages"] as? String else { continue }
                found.append(try #require(try JSONDecoder().decode(RenderStages.self, from: Data(stages.utf8)).manim))
            }
        }
        return found
    }

    @Test func thePlanCompilesEachExpressionOnceAndTheRendersCompileNothing() async throws {
        // No room in the render cache: the second video's renders run again, on the cached plan, which has no SVGs.
        let farm = try await FarmHarness(agents: [[]], coordinatorArguments: ["--render-cache-limit-mib", "0"],
                                         environment: ["FARM_LOG_FORMAT": "json"])
        let request = SubmitRequest(script: Self.script, scriptName: "tex.py", quality: .low)
        let first = try await farm.waitUntilFinal(try farm.decodeStatus(try await farm.submit(request).body).id)
        try #require(first.state == .done, "\(first.error ?? "") \(first.scenes.map { $0.error?.message ?? "" })")
        let shipped = try Self.latexOfRenders(farm, video: first.id)
        #expect(shipped.count == 2 && shipped.map(\.texCalls).sorted() == [1, 2], "\(shipped)")
        #expect(shipped.allSatisfy { $0.latexCompiles == 0 }, "every expression came from the plan: \(shipped)")

        let again = try await farm.waitUntilFinal(try farm.decodeStatus(try await farm.submit(request).body).id)
        try #require(again.state == .done, "\(again.error ?? "")")
        let store = try SQLiteStore(path: farm.directory.appendingPathComponent("coordinator/farm.sqlite").path)
        #expect(try await store.attempts(taskID: "\(again.id)-plan").map(\.agentID) == ["plan-cache"],
                "a plan with LaTeX is cached under the key a resubmission looks up")
        let compiled = try Self.latexOfRenders(farm, video: again.id)
        #expect(compiled.count == 2 && compiled.map(\.latexCompiles).reduce(0, +) == 3, "without the plan's SVGs: \(compiled)")
        #expect(try PlanningFarmTests.mediaBytes(again) == PlanningFarmTests.mediaBytes(first),
                "the plan's SVGs draw the same frames as the render's own LaTeX")
    }

    @Test func submittedFilesMayNotPoseAsThePlansLaTeX() async throws {
        let farm = try await FarmHarness(agents: [])
        var request = SubmitRequest(script: Self.script, scriptName: "tex.py", quality: .low)
        request.assets = [SubmittedAsset(name: "farm-tex/0123456789abcdef.json", data: Data(#"{"0123456789abcdef.svg": "<svg/>"}"#.utf8))]
        let (code, body) = try await farm.submit(request)
        #expect(code == 422 && String(decoding: body, as: UTF8.self).contains("the folder the farm keeps for the LaTeX"), "\(code) \(String(decoding: body, as: UTF8.self))")
    }
}
