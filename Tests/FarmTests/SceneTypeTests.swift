import FarmModel
import Foundation
import Testing

/// One scene of each kind Manim documents renders on the farm in the locked environment, and the frames the
/// farm's agents draw are plain Manim's: pixel for pixel against `manim render --format png-sequence` of the same script,
/// and the farm's encoded video close to those frames.
@Suite(.serialized) struct SceneTypeTests {
    static let script = """
        import numpy as np
        from manim import *

        class Zoomed(ZoomedScene):
            def construct(self):
                self.add(Square(), Dot(UP * 0.5, color=RED))
                self.activate_zooming(animate=False)
                self.play(self.zoomed_camera.frame.animate.shift(0.5 * UP), run_time=0.4)

        class Moving(MovingCameraScene):
            def construct(self):
                self.add(Circle(), Text("camera").shift(DOWN * 2))
                self.play(self.camera.frame.animate.scale(0.5).move_to(DOWN * 2), run_time=0.6)

        class Rotating(ThreeDScene):
            def construct(self):
                self.set_camera_orientation(phi=70 * DEGREES, theta=30 * DEGREES)
                self.add(ThreeDAxes(), Cube(side_length=1.5, fill_opacity=0.7))
                self.begin_ambient_camera_rotation(rate=1.2)
                self.wait(0.6)

        class FromArray(Scene):
            def construct(self):
                pixels = np.uint8([[0, 100, 30, 200], [255, 0, 5, 33], [80, 160, 240, 20]])
                image = ImageMobject(pixels)
                image.height = 4
                self.play(FadeIn(image), run_time=0.4)

        class Formula(Scene):
            def construct(self):
                self.play(Write(MathTex(r"e^{i\\pi} + 1 = 0")), run_time=0.6)
        """

    static let scenes = ["Zoomed", "Moving", "Rotating", "FromArray", "Formula"]

    @Test func everyDocumentedSceneTypeRendersAsPlainManimDrawsIt() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let folder = farm.directory.appendingPathComponent("project")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let script = folder.appendingPathComponent("kinds.py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        let (code, body) = try await farm.submit(SubmitRequest(script: Self.script, scriptName: "kinds.py", quality: .low, split: false))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id

        // Plain Manim, every frame as a PNG (images/kinds/<Scene>/0000.png, …), while the farm renders.
        let manim = URL(fileURLWithPath: FarmHarness.python).deletingLastPathComponent().appendingPathComponent("manim").path
        let plain = farm.directory.appendingPathComponent("plain")
        _ = try runIn(folder, manim, ["render", "-ql", "--format", "png-sequence", "--disable_caching", "--silent", "--progress_bar", "none",
                                      "--media_dir", plain.path, script.path] + Self.scenes)
        let status = try await farm.waitUntilFinal(id)
        try #require(status.state == .done, "\(status.error ?? "") \(status.scenes.map { "\($0.name): \($0.error?.message ?? "")" })")
        let outputs = try #require(status.outputs)

        let images = plain.appendingPathComponent("images/kinds")
        var start = 0
        for scene in Self.scenes {
            let expected = try run(FarmHarness.python, [SplittingTests.fixtures.appendingPathComponent("png_hashes.py").path,
                                                          images.appendingPathComponent(scene).path, ""])
                .stdout.split(separator: "\n").map(String.init)
            let frames = status.scenes.filter { $0.name == scene }.compactMap(\.frames).reduce(0, +)
            #expect(!expected.isEmpty && frames == expected.count, "\(scene): the farm rendered \(frames) frames, plain Manim \(expected.count)")
            // What the farm's agent streams to its encoder is what plain Manim draws, bit for bit.
            let streamed = try SplittingTests.frameHashes(scene, script: script)
            #expect(streamed == expected, "\(scene): the shim's frames are plain Manim's")
            // And the farm's encoded video is those frames, within what H.264 at the ladder's top rate loses.
            let psnr = try run("ffmpeg", ["-v", "info", "-i", outputs.mp4Path, "-framerate", "15", "-i", images.path + "/\(scene)/%04d.png",
                                          "-lavfi", "[0:v]trim=start_frame=\(start):end_frame=\(start + frames),setpts=PTS-STARTPTS[farm];"
                                              + "[1:v]format=yuv420p[plain];[farm][plain]psnr", "-f", "null", "-"]).stderr
            let average = psnr.split(separator: "\n").last { $0.contains("PSNR") }?.split(separator: " ")
                .first { $0.hasPrefix("average:") }.flatMap { Double($0.dropFirst("average:".count)) } ?? 0
            #expect(average > 30, "\(scene): the farm's video is the drawn frames (PSNR \(average) dB)")
            start += frames
        }
    }
}
