import FarmModel
import Foundation
import Testing

/// A planning pass runs its scenes in parallel processes on an agent with cores to spare, and its plan is the one
/// a single process makes: every scene, in the video's order, with its animations.
@Suite(.serialized) struct PlanningLaneTests {
    static let script = """
        from manim import *

        class One(Scene):
            def construct(self):
                self.play(Create(Square()), run_time=0.3)

        class Two(Scene):
            def construct(self):
                self.play(Create(Circle()), run_time=0.2)
                self.play(FadeOut(Circle()), run_time=0.2)

        class Three(Scene):
            def construct(self):
                self.wait(0.4)
        """

    @Test func scenesArePlannedInLanesAndThePlanKeepsTheirOrder() async throws {
        let farm = try await FarmHarness(agents: [[]], environment: ["FARM_LOG_FORMAT": "json"])
        let (code, body) = try await farm.submit(SubmitRequest(script: Self.script, scriptName: "lanes.py", quality: .low))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let status = try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
        try #require(status.state == .done, "\(status.error ?? "")")
        #expect(status.scenes.map(\.name) == ["One", "Two", "Three"])
        // Frames at 15 fps: 0.3 s, 0.2 + 0.2 s, 0.4 s.
        #expect(status.scenes.map(\.frames) == [5, 6, 6], "\(status.scenes.map(\.frames))")

        let log = try String(contentsOf: farm.directory.appendingPathComponent("agent-0-0.log"), encoding: .utf8)
        let lanes = log.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("{"), let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let fields = entry["fields"] as? [String: Any], fields["kind"] as? String == "plan" else { return nil }
            return (fields["lanes"] as? String).flatMap { Int($0) }
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #expect(lanes == [min(3, cores, 4)], "one planning pass in as many lanes as spare cores: \(lanes)")
    }
}
