import Coordinator
import FarmProtocol
import FarmModel
import FarmStorage
import Foundation
import Testing

/// Planning, range splitting and the render cache, through a real farm.
@Suite(.serialized) struct PlanningFarmTests {
    /// A short scene and a long one whose frames depend on elapsed time (a `dt` updater and per-frame randomness).
    static let oneLongScene = """
        import numpy as np
        from manim import *

        class Opening(Scene):
            def construct(self):
                self.play(FadeIn(Text("Opening")), run_time=1)

        class Long(Scene):
            def construct(self):
                dot = Dot(RIGHT * 2, color=YELLOW)
                dot.add_updater(lambda m, dt: m.rotate(1.1 * dt, about_point=ORIGIN))
                jitter = Dot(color=RED).add_updater(lambda m, dt: m.move_to([np.random.uniform(-1, 1), -2, 0]))
                self.add(dot, jitter)
                square = Square()
                for step in range(6):
                    self.play(square.animate.rotate(PI / 6).shift(0.2 * RIGHT), run_time=1)
                self.wait(1)
        """

    @Test func aLongSceneIsRenderedInRangesOnTwoAgentsAndJoinedSeamlessly() async throws {
        let farm = try await FarmHarness(agents: [[], []], coordinatorArguments: ["--minimum-piece-seconds", "0.3"])
        let (code, body) = try await farm.submit(SubmitRequest(script: Self.oneLongScene, scriptName: "long.py", quality: .low, seed: 3))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let status = try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
        try #require(status.state == .done, "\(status.error ?? "")")
        #expect(status.plan?.state == .done)

        let ranges = status.scenes.filter { $0.name == "Long" }.compactMap(\.animations)
        try #require(ranges.count >= 2, "the long scene was split: \(status.scenes.map { "\($0.name) \($0.animations?.description ?? "whole")" })")
        #expect(ranges.first?.first == 0 && ranges.last?.last == 6, "the ranges cover all seven animations")
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.last + 1 == $1.first })
        #expect(Set(status.scenes.compactMap(\.agent)).count == 2, "both agents rendered")

        // Every frame once, continuous timestamps, an IDR where each piece starts.
        let pieceFrames = status.scenes.compactMap(\.frames)
        let expected = try EndToEndTests.plainManimFrameCounts(
            try Self.write(Self.oneLongScene), scenes: ["Opening", "Long"])
        #expect(pieceFrames.reduce(0, +) == expected.reduce(0, +), "as many frames as plain manim renders")
        try FaultToleranceTests.expectComplete(status, sceneFrames: pieceFrames)
    }

    @Test func unchangedScenesComeFromTheRenderCacheAndAChangedOneIsRenderedAgain() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let script = try String(contentsOf: FarmHarness.example, encoding: .utf8)
        let request = SubmitRequest(script: script, scriptName: "lesson.py", scenes: ["Intro", "Proof"], quality: .low)
        let first = try await farm.waitUntilFinal(try farm.decodeStatus(try await farm.submit(request).body).id)
        try #require(first.state == .done, "\(first.error ?? "")")
        #expect(first.scenes.allSatisfy { $0.attempt == 1 && $0.note == nil })

        let again = try await farm.waitUntilFinal(try farm.decodeStatus(try await farm.submit(request).body).id)
        try #require(again.state == .done, "\(again.error ?? "")")
        #expect(again.scenes.allSatisfy { $0.attempt == 0 && $0.note == "from the render cache" }, "nothing was rendered")
        let store = try SQLiteStore(path: farm.directory.appendingPathComponent("coordinator/farm.sqlite").path)
        let firstPlan = try await store.attempts(taskID: "\(first.id)-plan")
        #expect(firstPlan.count == 1 && firstPlan.first?.agentID != "plan-cache", "an agent planned the first video")
        #expect(try await store.attempts(taskID: "\(again.id)-plan").map(\.agentID) == ["plan-cache"],
                "the unchanged resubmission took its plan from the cache: no agent planned it")
        #expect(again.frames == first.frames)
        try FaultToleranceTests.expectComplete(again, sceneFrames: first.scenes.compactMap(\.frames))
        let (firstMedia, againMedia) = (try Self.mediaBytes(first), try Self.mediaBytes(again))
        #expect(firstMedia == againMedia, "the cached video is the same video, byte for byte")

        let changed = script.replacingOccurrences(of: "Pythagoras", with: "Euclid")
        let edited = try await farm.waitUntilFinal(try farm.decodeStatus(try await farm.submit(
            SubmitRequest(script: changed, scriptName: "lesson.py", scenes: ["Intro", "Proof"], quality: .low)).body).id)
        try #require(edited.state == .done, "\(edited.error ?? "")")
        #expect(edited.scenes.map(\.attempt) == [1, 0], "only the edited scene is rendered again")
        #expect(edited.scenes[1].note == "from the render cache")

        let uncached = try await farm.waitUntilFinal(try farm.decodeStatus(try await farm.submit(
            SubmitRequest(script: script, scriptName: "lesson.py", scenes: ["Intro", "Proof"], quality: .low, cache: false)).body).id)
        #expect(uncached.scenes.allSatisfy { $0.attempt == 1 }, "cache: false renders everything")
    }

    @Test func aRenderCacheWithNoRoomKeepsNothingAndTheSceneIsRenderedAgain() async throws {
        let farm = try await FarmHarness(agents: [[]], coordinatorArguments: ["--render-cache-limit-mib", "0"])
        let script = try String(contentsOf: FarmHarness.example, encoding: .utf8)
        let request = SubmitRequest(script: script, scriptName: "lesson.py", scenes: ["Intro"], quality: .low)
        let first = try await farm.waitUntilFinal(try farm.decodeStatus(try await farm.submit(request).body).id)
        try #require(first.state == .done, "\(first.error ?? "")")
        let cache = farm.directory.appendingPathComponent("coordinator/cache")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []).isEmpty, "evicted as soon as kept")
        try FaultToleranceTests.expectComplete(first, sceneFrames: first.scenes.compactMap(\.frames))  // the published copy survives

        let again = try await farm.waitUntilFinal(try farm.decodeStatus(try await farm.submit(request).body).id)
        try #require(again.state == .done, "\(again.error ?? "")")
        #expect(again.scenes.allSatisfy { $0.attempt == 1 && $0.note == nil }, "nothing left to reuse: rendered again")
    }

    static func write(_ script: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("long-\(UUID().uuidString.prefix(8)).py")
        try script.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// The top rendition's init and media segments, concatenated.
    static func mediaBytes(_ status: VideoStatus) throws -> Data {
        let folder = URL(fileURLWithPath: try #require(status.outputs).masterPath).deletingLastPathComponent()
            .appendingPathComponent(status.renditions[0])
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".m4s") || $0.hasSuffix(".mp4") }
        return try names.sorted().reduce(into: Data()) { $0 += try Data(contentsOf: folder.appendingPathComponent($1)) }
    }
}
