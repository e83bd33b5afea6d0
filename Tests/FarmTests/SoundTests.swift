import FarmModel
import Foundation
import Testing

/// Scenes that add sounds have them in every output: the farm mixes the video's
/// track once (on an agent, from the plan's sounds and the submitted files),
/// publishes it as an HLS audio rendition and as the MP4's second track, and it
/// sounds as plain Manim's mix of each scene does, in the same place.
@Suite(.serialized) struct SoundTests {
    /// Three scenes; `Middle` is long enough to be split into ranges, with sounds in two of them. Tones at three
    /// rates and two channel layouts, a gain, an offset, and sounds that run past their scene's end.
    static let script = """
        from manim import *

        class Intro(Scene):
            def construct(self):
                self.add_sound("tones/a440.wav")
                self.play(Create(Circle()), run_time=1)
                self.add_sound("tones/b660.wav", time_offset=0.2, gain=-6)
                self.wait(0.5)

        class Middle(Scene):
            def construct(self):
                s = Square()
                self.play(Create(s), run_time=1)
                for step in range(9):
                    if step in (1, 6):
                        self.add_sound("tones/a440.wav" if step == 1 else "tones/b660.wav")
                    self.play(s.animate.rotate(PI / 9).shift(0.1 * RIGHT), run_time=1)

        class Outro(Scene):
            def construct(self):
                self.play(Write(Text("bye")), run_time=1)
                self.add_sound("tones/c880.wav")
                self.wait(1)
        """

    static let tones = """
        import math, struct, sys, wave
        def tone(path, freq, seconds, rate, channels):
            with wave.open(path, "wb") as w:
                w.setnchannels(channels); w.setsampwidth(2); w.setframerate(rate)
                frames = bytearray()
                for i in range(int(seconds * rate)):
                    frames += struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i / rate))) * channels
                w.writeframes(bytes(frames))
        tone(sys.argv[1] + "/a440.wav", 440, 0.6, 44100, 1)
        tone(sys.argv[1] + "/b660.wav", 660, 0.8, 48000, 2)
        tone(sys.argv[1] + "/c880.wav", 880, 3.0, 22050, 1)
        """

    /// The script and its tones in `folder`.
    static func project(in folder: URL) throws -> URL {
        let tonesFolder = folder.appendingPathComponent("tones")
        try FileManager.default.createDirectory(at: tonesFolder, withIntermediateDirectories: true)
        let generator = folder.appendingPathComponent("make_tones.py")
        try Self.tones.write(to: generator, atomically: true, encoding: .utf8)
        _ = try run(FarmHarness.python, [generator.path, tonesFolder.path])
        let script = folder.appendingPathComponent("sounds.py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        return script
    }

    static func assets(in folder: URL) throws -> [SubmittedAsset] {
        try ["a440", "b660", "c880"].map {
            SubmittedAsset(name: "tones/\($0).wav", data: try Data(contentsOf: folder.appendingPathComponent("tones/\($0).wav")))
        }
    }

    @Test func soundsPlayInEveryRenditionAsPlainManimMixesThem() async throws {
        let farm = try await FarmHarness(agents: [[], []], coordinatorArguments: ["--minimum-piece-seconds", "0.3"])
        let folder = farm.directory.appendingPathComponent("project")
        let script = try Self.project(in: folder)
        var request = SubmitRequest(script: Self.script, scriptName: "sounds.py", quality: .low)
        request.assets = try Self.assets(in: folder)
        let (code, body) = try await farm.submit(request)
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let status = try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
        try #require(status.state == .done, "\(status.error ?? "") \(status.scenes.map { "\($0.name): \($0.error?.message ?? "")" })")
        let ranges = status.scenes.filter { $0.name == "Middle" }
        #expect(ranges.count >= 2, "the scene with sounds was split: \(ranges.map { "\($0.animations?.description ?? "whole") \($0.note ?? "")" })")

        // HLS: an audio rendition every variant names, with its codec and bit rate counted.
        let outputs = try #require(status.outputs)
        let published = URL(fileURLWithPath: outputs.masterPath).deletingLastPathComponent()
        let master = try String(contentsOf: published.appendingPathComponent("master.m3u8"), encoding: .utf8)
        let media = try #require(master.split(separator: "\n").first { $0.hasPrefix("#EXT-X-MEDIA:") }.map(String.init), "\(master)")
        let audio = PlaylistCheck.attributes(String(media.dropFirst("#EXT-X-MEDIA:".count)))
        #expect(audio["TYPE"] == "AUDIO" && audio["GROUP-ID"] == "audio" && audio["DEFAULT"] == "YES" && audio["AUTOSELECT"] == "YES"
                    && audio["CHANNELS"] == "2" && audio["LANGUAGE"] != nil && audio["NAME"] != nil && audio["URI"] == "audio/index.m3u8", "\(media)")
        let check = try PlaylistCheck(master: master, folder: published)
        let soundRate = try check.measuredAverageBandwidth(PlaylistCheck.Variant(uri: "audio/index.m3u8", bandwidth: 0, averageBandwidth: 0,
                                                                                 codecs: "", resolution: "", frameRate: ""))
        for variant in check.variants {
            #expect(variant.codecs.hasSuffix(",mp4a.40.2"), "\(variant.codecs)")
            let videoPeak = try check.rfcPeakBandwidth(variant)
            #expect(Double(variant.bandwidth) >= videoPeak + soundRate * 0.99, "BANDWIDTH counts the sound")
            let line = try #require(master.split(separator: "\n").first { $0.hasPrefix("#EXT-X-STREAM-INF:") && $0.contains(variant.codecs) })
            #expect(PlaylistCheck.attributes(String(line.dropFirst("#EXT-X-STREAM-INF:".count)))["AUDIO"] == "audio")
        }
        let streams = try run("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type,codec_name,profile,sample_rate,channels",
                                          "-of", "csv=p=0", published.appendingPathComponent("master.m3u8").path]).stdout
        #expect(streams.contains("aac,LC,audio,48000,2") || streams.contains("aac,audio,LC,48000,2") || streams.contains("aac"), "\(streams)")
        #expect(try FFprobe.decodeErrors(published.appendingPathComponent("master.m3u8").path).isEmpty)

        // The MP4 carries both tracks, the sound as long as the picture (within one AAC frame).
        let tracks = try run("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type,start_time,duration", "-of", "csv=p=0",
                                         outputs.mp4Path]).stdout
        var ends: [String: Double] = [:]
        for line in tracks.split(separator: "\n") {
            let parts = line.split(separator: ",").map(String.init)
            if parts.count == 3, ends[parts[0]] == nil, let start = Double(parts[1]), let duration = Double(parts[2]) {
                ends[parts[0]] = start + duration  // the priming plays before 0: the track ends at start + duration
            }
        }
        let picture = try #require(ends["video"], "\(tracks)"), sound = try #require(ends["audio"], "\(tracks)")
        let aacFrame: Double = 1_024.0 / 48_000
        #expect(Swift.abs(picture - sound) <= aacFrame + 1e-6, "video ends at \(picture) s, audio at \(sound) s")
        #expect(try FFprobe.decodeErrors(outputs.mp4Path).isEmpty)

        // A real player: headless Chromium plays the HLS ladder and the MP4 to their end, decoding sound until then.
        for media in ["master.m3u8", "video.mp4"] {
            let played = try run(FarmHarness.python, [FarmHarness.repository.appendingPathComponent("Tests/FarmTests/Fixtures/play_in_chromium.py").path,
                                                      published.path, media]).stdout
            let report = try #require(try JSONSerialization.jsonObject(with: Data(played.utf8)) as? [String: Any], "\(played)")
            let duration = report["duration"] as? Double ?? 0
            let samples = (report["samples"] as? [[Double]] ?? []).filter { $0.count == 3 }
            let atEnd = samples.last?[1] ?? 0
            let secondBefore = samples.last { $0[0] <= duration - 1 }?[1] ?? atEnd
            #expect(report["ended"] as? Bool == true, "\(media) played to its end: \(played.prefix(500))")
            #expect(Swift.abs(duration - picture) < 0.1, "\(media) lasts as long as the video: \(duration) s and \(picture) s")
            #expect(atEnd > secondBefore && secondBefore > 0, "\(media)'s sound was decoded until the end: \(secondBefore) then \(atEnd) bytes")
        }

        // As plain Manim mixes each scene: cross-correlated, in place within a video frame, within 1 dB.
        let manim = URL(fileURLWithPath: FarmHarness.python).deletingLastPathComponent().appendingPathComponent("manim").path
        let plain = farm.directory.appendingPathComponent("plain")
        _ = try runIn(folder, manim, ["render", "-ql", "--disable_caching", "--silent", "--progress_bar", "none", "--media_dir", plain.path,
                                      script.path, "Intro", "Middle", "Outro"])
        var scenes: [[String: Any]] = []
        var start = 0
        for name in ["Intro", "Middle", "Outro"] {
            let before: Int = status.scenes.prefix { $0.name != name }.compactMap { $0.frames }.reduce(0, +)
            let frames: Int = status.scenes.filter { $0.name == name }.compactMap { $0.frames }.reduce(0, +)
            let end = (before + frames) * 48_000 / 15
            scenes.append(["plain": plain.appendingPathComponent("videos/sounds/480p15/\(name).mp4").path, "start": start, "samples": end - start])
            start = end
        }
        let comparison = try JSONSerialization.data(withJSONObject: ["farm": outputs.mp4Path, "maxLag": 48_000 / 15, "scenes": scenes] as [String: Any])
        let compared = try run(FarmHarness.python, [FarmHarness.repository.appendingPathComponent("Tests/FarmTests/Fixtures/audio_compare.py").path,
                                                    String(decoding: comparison, as: UTF8.self)]).stdout
        let report = try #require(try JSONSerialization.jsonObject(with: Data(compared.utf8)) as? [String: Any])
        let farmSamples = report["farmSamples"] as? Int ?? 0
        #expect(Swift.abs(farmSamples - start) <= 1_024, "the track lasts as long as the video: \(compared)")
        for (name, scene) in zip(["Intro", "Middle", "Outro"], report["scenes"] as? [[String: Any]] ?? []) {
            let lag = scene["lag"] as? Int ?? Int.max
            let farmRMS = scene["farmRMS"] as? Double ?? 0, plainRMS = scene["plainRMS"] as? Double ?? 1
            let correlation = scene["correlation"] as? Double ?? 0
            let decibels: Double = 20 * Foundation.log10(farmRMS / plainRMS)
            #expect(Swift.abs(lag) <= 48_000 / 15, "\(name) is in place: \(scene)")
            #expect(plainRMS > 0.01 && Swift.abs(decibels) <= 1, "\(name) is as loud: \(scene)")
            // Manim's mix resamples with audioop, the farm's with libswresample: the same tones, not the same samples.
            #expect(correlation > 0.8, "\(name) is the same sound: \(scene)")
        }
    }

    @Test func aSoundFileThatIsNotAudioFailsItsVideoSayingWhichAndOthersRender() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let folder = farm.directory.appendingPathComponent("project")
        _ = try Self.project(in: folder)
        var assets = try Self.assets(in: folder)
        assets[2] = SubmittedAsset(name: "tones/c880.wav", data: Data("RIFF, but not really a sound at all".utf8))
        var request = SubmitRequest(script: Self.script, scriptName: "sounds.py", quality: .low)
        request.assets = assets
        let (code, body) = try await farm.submit(request)
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let silent = try await farm.submit(SubmitRequest(script: "from manim import *\nclass Quiet(Scene):\n    def construct(self):\n        self.play(Create(Dot()), run_time=0.5)\n",
                                                         scriptName: "quiet.py", quality: .low))
        let broken = try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
        #expect(broken.state == .failed)
        #expect(broken.error?.contains("c880.wav") == true, "\(broken.error ?? "")")
        let quiet = try await farm.waitUntilFinal(try farm.decodeStatus(silent.1).id)
        #expect(quiet.state == .done)
        // A video without sounds keeps the outputs it always had: no audio rendition.
        let master = try String(contentsOfFile: try #require(quiet.outputs?.masterPath), encoding: .utf8)
        #expect(!master.contains("EXT-X-MEDIA") && !master.contains("mp4a"), "\(master)")
    }

    /// In an object store the sound is published beside the ladder and interleaved into the MP4 the store joins.
    @Test func theSoundIsPublishedToTheObjectStoreAndInTheMP4() async throws {
        let moto = try await ObjectStorageTests.MotoS3(bucket: "farm-sound")
        let farm = try await FarmHarness(agents: [[]], coordinatorArguments: ObjectStoreFarmTests.storage("farm-sound/published", at: moto.endpoint),
                                         environment: ObjectStorageTests.MotoS3.environment)
        let folder = farm.directory.appendingPathComponent("project")
        _ = try Self.project(in: folder)
        var request = SubmitRequest(script: Self.script, scriptName: "sounds.py", quality: .low)
        request.assets = try Self.assets(in: folder)
        let (code, body) = try await farm.submit(request)
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id
        let status = try await farm.waitUntilFinal(id)
        try #require(status.state == .done, "\(status.error ?? "") \(status.scenes.map { "\($0.name): \($0.error?.message ?? "")" })")
        let client = try await moto.client()
        let master = String(decoding: try await client.get("published/\(id)/master.m3u8"), as: UTF8.self)
        #expect(master.contains("#EXT-X-MEDIA:TYPE=AUDIO") && master.contains("mp4a.40.2"), "\(master)")
        let keys = try await client.list(prefix: "published/\(id)/audio/").map(\.key)
        #expect(keys.contains("published/\(id)/audio/index.m3u8") && keys.contains("published/\(id)/audio/init.mp4"), "\(keys)")
        #expect(!keys.contains { $0.hasSuffix(".mp4-init.mp4") }, "the merged init segment was only a piece of the MP4")
        let mp4 = farm.directory.appendingPathComponent("video.mp4")
        try await client.get("published/\(id)/video.mp4").write(to: mp4)
        let streams = try run("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", mp4.path]).stdout
        #expect(streams.split(separator: "\n").sorted() == ["audio", "video"], "\(streams)")
        #expect(try FFprobe.decodeErrors(mp4.path).isEmpty)
    }
}
