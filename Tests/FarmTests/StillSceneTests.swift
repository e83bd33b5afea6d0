import FarmModel
import Foundation
import Testing

/// A scene without animations is a still: plain Manim saves its one frame as a PNG and makes no movie of
/// it. The farm publishes that picture beside the video (`stills/<Scene>.png`, pixel for pixel what Manim
/// saves) and, in a video, keeps it on screen for the submission's still length (default 1 s; `0`: the
/// picture only, as plain Manim). A script of stills only at length 0 ends `done` with its pictures and no
/// movie, instead of failing its agents and waiting for ever.
@Suite(.serialized) struct StillSceneTests {
    static let script = """
        from manim import *

        class Title(Scene):
            def construct(self):
                self.add(Square(color=BLUE).shift(LEFT), Circle(color=RED, fill_opacity=0.5).shift(RIGHT))

        class Move(Scene):
            def construct(self):
                self.play(Create(Square()), run_time=1)

        class Closing(Scene):
            def construct(self):
                self.add(Triangle(color=GREEN))
        """

    /// The RGBA pixels of a PNG, decoded by ffmpeg (a test tool).
    static func pixels(_ png: URL) throws -> Data {
        let raw = png.deletingPathExtension().appendingPathExtension("rgba")
        try run("ffmpeg", ["-v", "error", "-y", "-i", png.path, "-f", "rawvideo", "-pix_fmt", "rgba", raw.path])
        return try Data(contentsOf: raw)
    }

    @Test func stillsArePublishedAsPicturesAndStayOnScreenForASecondOfTheVideo() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let (code, body) = try await farm.submit(SubmitRequest(script: Self.script, scriptName: "stills.py", quality: .low))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id
        let status = try await farm.waitUntilFinal(id)
        try #require(status.state == .done, "\(status.error ?? "") \(status.scenes.map { "\($0.name): \($0.error?.message ?? "")" })")
        #expect(status.scenes.map(\.name) == ["Title", "Move", "Closing"])
        #expect(status.scenes.allSatisfy { $0.attempt == 1 && $0.retriesSpent == 0 }, "a still is not an agent's failure")
        #expect(status.frames == 45, "each still's second and Move's second, at 15 fps")
        #expect(status.scenes.map(\.frames) == [15, 15, 15], "\(status.scenes.map(\.frames))")
        let outputs = try #require(status.outputs)
        #expect(try FFprobe.frameCount(outputs.mp4Path) == 45)
        #expect(try FFprobe.decodeErrors(outputs.mp4Path).isEmpty)

        // Plain Manim's PNGs of the same scenes, pixel for pixel.
        let media = farm.directory.appendingPathComponent("plain")
        let file = farm.directory.appendingPathComponent("stills.py")
        try Self.script.write(to: file, atomically: true, encoding: .utf8)
        let manim = URL(fileURLWithPath: FarmHarness.python).deletingLastPathComponent().appendingPathComponent("manim").path
        try run(manim, ["render", "-ql", "--disable_caching", "--silent", "--progress_bar", "none", "--media_dir", media.path,
                        file.path, "Title", "Closing"])
        for name in ["Title", "Closing"] {
            let scene = try #require(status.scenes.first { $0.name == name })
            let url = try #require(scene.still, "\(name) has a picture")
            #expect(url == "/v1/videos/\(id)/stills/\(name).png")
            let (served, png) = try await farm.send("GET", url)
            #expect(served == 200)
            let farmPNG = farm.directory.appendingPathComponent("farm-\(name).png")
            try png.write(to: farmPNG)
            let plain = try #require(try FileManager.default.contentsOfDirectory(
                at: media.appendingPathComponent("images/stills"), includingPropertiesForKeys: nil).first { $0.lastPathComponent.hasPrefix(name) })
            let (farmPixels, plainPixels) = (try Self.pixels(farmPNG), try Self.pixels(plain))
            #expect(farmPixels.count == 854 * 480 * 4)
            #expect(farmPixels == plainPixels, "\(name): the farm's still is what Manim saves")
            // And the video shows that picture for its second.
            let first = name == "Title" ? 0 : 30
            let psnr = try run("ffmpeg", ["-v", "info", "-i", outputs.mp4Path, "-i", plain.path, "-lavfi",
                                          "[0:v]trim=start_frame=\(first):end_frame=\(first + 15),setpts=PTS-STARTPTS[farm];"
                                              + "[1:v]format=yuv420p,loop=loop=14:size=1[plain];[farm][plain]psnr", "-f", "null", "-"]).stderr
            let average = psnr.split(separator: "\n").last { $0.contains("PSNR") }?.split(separator: " ")
                .first { $0.hasPrefix("average:") }.flatMap { Double($0.dropFirst("average:".count)) } ?? 0
            #expect(average > 30, "\(name) is on screen in the video (PSNR \(average) dB)")
        }
        #expect(status.scenes.first { $0.name == "Move" }?.still == nil)
    }

    @Test func aScriptOfStillsOnlyAtLengthZeroIsDoneWithPicturesAndNoMovie() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let stills = Self.script.replacingOccurrences(of: "self.play(Create(Square()), run_time=1)", with: "self.add(Square())")
        var request = SubmitRequest(script: stills, scriptName: "only.py", quality: .low)
        request.stillSeconds = 0
        let (code, body) = try await farm.submit(request)
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id
        let status = try await farm.waitUntilFinal(id, timeout: .seconds(120))
        try #require(status.state == .done, "\(status.error ?? "") \(status.scenes.map { "\($0.name): \($0.error?.message ?? "")" })")
        #expect(status.frames == 0 && status.seconds == 0)
        #expect(status.outputs == nil, "no movie: no playlists, no MP4")
        #expect(status.scenes.allSatisfy { $0.still != nil }, "\(status.scenes.map(\.still))")
        let (master, _) = try await farm.send("GET", "/v1/videos/\(id)/master.m3u8")
        #expect(master == 404)
        let cli = try farm.cli(["status", id, "--coordinator", farm.http.absoluteString])
        #expect(cli.stdout.contains("still Move: "), "\(cli.stdout) \(cli.stderr)")
    }

    @Test func aStillLengthOutOfRangeIsRefused() async throws {
        let farm = try await FarmHarness(agents: [])
        for seconds: Double in [-1, 601] {
            var request = SubmitRequest(script: Self.script, scriptName: "stills.py", quality: .low)
            request.stillSeconds = seconds
            let (code, body) = try await farm.submit(request)
            #expect(code == 422 || code == 400, "\(seconds): \(code) \(String(decoding: body, as: UTF8.self))")
        }
    }
}
