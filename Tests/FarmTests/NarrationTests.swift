import FarmModel
import Foundation
import Testing

/// Scripts written for manim-voiceover render on the farm unchanged: the farm speaks for the plugin's services,
/// offline with espeak-ng, once, in the planning pass; every range and the sound track use that speech, and the
/// narration's length drives the animations as it does in plain Manim.
@Suite(.serialized) struct NarrationTests {
    /// Narrated the way manim-voiceover's documentation does it; the long scene is split into ranges.
    static func script(service: String) -> String {
        """
        from manim import *
        from manim_voiceover import VoiceoverScene
        \(service)


        class Narrated(VoiceoverScene):
            def construct(self):
                self.set_speech_service(SPEECH)
                circle = Circle()
                with self.voiceover(text="This circle is drawn while I speak.") as tracker:
                    self.play(Create(circle), run_time=tracker.duration)
                self.play(circle.animate.shift(LEFT), run_time=0.5)
                with self.voiceover(text="Now it turns into a square, slowly.") as tracker:
                    self.play(Transform(circle, Square()), run_time=tracker.duration)
                self.play(FadeOut(circle), run_time=0.5)


        class Closing(VoiceoverScene):
            def construct(self):
                self.set_speech_service(SPEECH)
                with self.voiceover(text="That is all.") as tracker:
                    self.play(Write(Text("fin")), run_time=tracker.duration)
        """
    }

    /// What the farm runs, unchanged: the plugin's most used service, which needs Google's servers (and the gTTS
    /// package, not installed): the farm speaks for it, offline.
    static let farmScript = script(service: """
        from manim_voiceover.services.gtts import GTTSService
        SPEECH = GTTSService(lang="en")
        """)

    /// The reference plain Manim renders: a service of the script's own that speaks with the farm's engine and voice
    /// (pyttsx3 itself cannot run under plain Manim on Linux: it writes WAV into a file named .mp3 that the plugin
    /// then fails to read).
    static let plainScript = script(service: """
        import subprocess
        from pathlib import Path
        from manim_voiceover.services.base import SpeechService

        class Espeak(SpeechService):
            def generate_from_text(self, text, cache_dir=None, path=None, **kwargs):
                cache_dir = cache_dir or self.cache_dir
                data = {"input_text": text, "service": "reference"}
                audio = self.get_audio_basename(data) + ".wav"
                subprocess.run(["espeak-ng", "-v", "en", "-w", str(Path(cache_dir) / audio), "--stdin"], input=text.encode(), check=True)
                return {"input_text": text, "input_data": data, "original_audio": audio}

        SPEECH = Espeak()
        """)

    @Test func aManimVoiceoverScriptIsNarratedOnTheFarmAsPlainManimNarratesIt() async throws {
        let farm = try await FarmHarness(agents: [[], []], coordinatorArguments: ["--minimum-piece-seconds", "0.3"])
        let (code, body) = try await farm.submit(SubmitRequest(script: Self.farmScript, scriptName: "narrated.py", quality: .low))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id

        let folder = farm.directory.appendingPathComponent("plain-project")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let script = folder.appendingPathComponent("narrated.py")
        try Self.plainScript.write(to: script, atomically: true, encoding: .utf8)
        let manim = URL(fileURLWithPath: FarmHarness.python).deletingLastPathComponent().appendingPathComponent("manim").path
        let plain = farm.directory.appendingPathComponent("plain")
        _ = try runIn(folder, manim, ["render", "-ql", "--disable_caching", "--silent", "--progress_bar", "none", "--media_dir", plain.path,
                                      script.path, "Narrated", "Closing"])

        let status = try await farm.waitUntilFinal(id, timeout: .seconds(300))
        try #require(status.state == .done, "\(status.error ?? "") \(status.scenes.map { "\($0.name): \($0.error?.message ?? "") \($0.error?.logTail.suffix(800) ?? "")" })")
        #expect(status.scenes.filter { $0.name == "Narrated" }.count >= 2, "the narrated scene was split into ranges")
        let sounds = status.scenes.first { $0.name == "Narrated" }?.sounds ?? []
        #expect(sounds.count == 2 && sounds.allSatisfy { $0.file.hasPrefix("voiceovers/") && $0.file.hasSuffix(".wav") }, "\(sounds)")

        // The speech drove the animations as in plain Manim: the same frames.
        let plainFolder = plain.appendingPathComponent("videos/narrated/480p15")
        for name in ["Narrated", "Closing"] {
            let frames = status.scenes.filter { $0.name == name }.compactMap(\.frames).reduce(0, +)
            #expect(frames == (try FFprobe.frameCount(plainFolder.appendingPathComponent("\(name).mp4").path)), "\(name)")
        }

        // And it sounds as plain Manim's: in place within a video frame, within 1 dB, the same speech.
        let outputs = try #require(status.outputs)
        var scenes: [[String: Any]] = []
        var start = 0
        for name in ["Narrated", "Closing"] {
            let frames: Int = status.scenes.filter { $0.name == name }.compactMap { $0.frames }.reduce(0, +)
            scenes.append(["plain": plainFolder.appendingPathComponent("\(name).mp4").path, "start": start, "samples": frames * 48_000 / 15])
            start += frames * 48_000 / 15
        }
        let comparison = try JSONSerialization.data(withJSONObject: ["farm": outputs.mp4Path, "maxLag": 48_000 / 15, "scenes": scenes] as [String: Any])
        let compared = try run(FarmHarness.python, [FarmHarness.repository.appendingPathComponent("Tests/FarmTests/Fixtures/audio_compare.py").path,
                                                    String(decoding: comparison, as: UTF8.self)]).stdout
        let report = try #require(try JSONSerialization.jsonObject(with: Data(compared.utf8)) as? [String: Any])
        for (name, scene) in zip(["Narrated", "Closing"], report["scenes"] as? [[String: Any]] ?? []) {
            let lag = scene["lag"] as? Int ?? Int.max
            let farmRMS = scene["farmRMS"] as? Double ?? 0, plainRMS = scene["plainRMS"] as? Double ?? 1
            let decibels: Double = 20 * Foundation.log10(farmRMS / plainRMS)
            #expect(Swift.abs(lag) <= 48_000 / 15, "\(name) is in place: \(scene)")
            #expect(plainRMS > 0.01 && Swift.abs(decibels) <= 1, "\(name) is as loud: \(scene)")
            #expect(scene["correlation"] as? Double ?? 0 > 0.8, "\(name) is the same speech: \(scene)")
        }
    }

    @Test func aServiceTheFarmCannotReplaceFailsItsVideoWithTheServicesOwnError() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let script = Self.script(service: """
            from manim_voiceover.services.base import SpeechService

            class Remote(SpeechService):
                def generate_from_text(self, text, cache_dir=None, path=None, **kwargs):
                    import urllib.request
                    urllib.request.urlopen("http://speech.example/tts", timeout=2)

            SPEECH = Remote()
            """)
        let (code, body) = try await farm.submit(SubmitRequest(script: script, scriptName: "remote.py", quality: .low, split: false))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let status = try await farm.waitUntilFinal(try farm.decodeStatus(body).id, timeout: .seconds(300))
        #expect(status.state == .failed)
        let errors = ([status.error] + status.scenes.map { $0.error?.message }).compactMap { $0 }.joined(separator: " | ")
        #expect(errors.contains("URLError") || errors.contains("urlopen") || errors.contains("Network") || errors.contains("network"), "\(errors)")
    }
}
