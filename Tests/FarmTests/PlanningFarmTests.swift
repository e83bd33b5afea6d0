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

    /// A mono 16-bit PCM WAV of `seconds` of a 440 Hz tone.
    static func wav(seconds: Double, rate: Int = 48_000) -> Data {
        let samples = Int(seconds * Double(rate))
        var data = Data()
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        data.append(contentsOf: Array("RIFF".utf8)); append(UInt32(36 + samples * 2)); data.append(contentsOf: Array("WAVEfmt ".utf8))
        append(UInt32(16)); append(UInt16(1)); append(UInt16(1)); append(UInt32(rate)); append(UInt32(rate * 2)); append(UInt16(2)); append(UInt16(16))
        data.append(contentsOf: Array("data".utf8)); append(UInt32(samples * 2))
        for index in 0..<samples { append(Int16(8_000 * sin(2 * Double.pi * 440 * Double(index) / Double(rate)))) }
        return data
    }

    /// The planning pass lists every sound a scene adds, where it starts on the scene's timeline, without reading
    /// it; a sound the submission lacks fails the video with Manim's own error, naming the file.
    @Test func thePlanListsEverySoundAndAMissingOneFailsTheVideoNamingIt() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let script = """
            from manim import *

            class Clicks(Scene):
                def construct(self):
                    self.add_sound("sounds/click.wav")
                    self.play(FadeIn(Dot()), run_time=1)
                    self.add_sound("sounds/click.wav", time_offset=0.25, gain=-3)
                    self.wait(0.5)
            """
        var request = SubmitRequest(script: script, scriptName: "clicks.py", quality: .low)
        request.assets = [SubmittedAsset(name: "sounds/click.wav", data: Self.wav(seconds: 0.2))]
        let (code, body) = try await farm.submit(request)
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let status = try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
        try #require(status.state == .done, "\(status.scenes.map { "\($0.name): \($0.error?.message ?? "")" })")
        // Where a render's clock puts them: 15 frames of 1/15 s, then the offset.
        let sounds = try #require(status.scenes.first?.sounds)
        #expect(sounds.map(\.file) == ["sounds/click.wav", "sounds/click.wav"] && sounds.map(\.gain) == [nil, -3], "\(sounds)")
        #expect(sounds.count == 2 && abs(sounds[0].seconds) < 1e-9 && abs(sounds[1].seconds - 1.25) < 1e-9, "\(sounds)")

        request.assets = nil
        let (missingCode, missingBody) = try await farm.submit(request)
        try #require(missingCode == 201)
        let missing = try await farm.waitUntilFinal(try farm.decodeStatus(missingBody).id)
        #expect(missing.state == .failed)
        let errors = ((missing.plan.map { [$0] } ?? []) + missing.scenes).compactMap(\.error).map(\.message)
        #expect(errors.contains { $0.contains("click.wav") }, "\(errors)")
    }

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
