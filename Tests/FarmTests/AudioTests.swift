import Foundation
import Media
import Testing

/// The audio half of a rendition: a scene's sounds decoded and mixed into one track (`SoundMixer`), and a track (any
/// rate, any channel count) resampled with libswresample
/// and encoded by libavcodec into AAC-LC at 48 kHz stereo, in fMP4 fragments cut at a sample count, so audio
/// segments can line up with the video's.
@Suite struct AudioTests {
    @Test func aToneBecomesAACLCInFragmentsCutAtTheSegmentLength() throws {
        var files: [(segment: Int?, samples: Int, data: Data)] = []
        let encoder = try AudioEncoder(inputRate: 44_100, inputChannels: 1, segmentSamples: 48_000) { files.append(($0, $1, $2)) }
        // 2.5 s of a 440 Hz tone at 44.1 kHz mono, handed over a tenth of a second at a time.
        let tone = (0..<110_250).map { Int16(8_000 * sin(2 * Double.pi * 440 * Double($0) / 44_100)) }
        for start in stride(from: 0, to: tone.count, by: 4_410) {
            try tone[start..<min(start + 4_410, tone.count)].withUnsafeBufferPointer { try encoder.encode(interleaved: $0) }
        }
        try encoder.finish()

        #expect(files.first?.segment == nil, "the init segment first")
        let fragments = files.dropFirst()
        #expect(fragments.map(\.segment) == [0, 1, 2])
        // Each cut at the first AAC frame at or after a whole second of the track's timeline (the first fragment also
        // carries the encoder's 1024 samples of priming, which play before 0).
        var end = -1_024
        for (second, fragment) in fragments.dropLast().enumerated() {
            end += fragment.samples
            #expect((48_000 * (second + 1)..<48_000 * (second + 1) + 1_024).contains(end), "cut \(second + 1) at \(end)")
        }
        let total = fragments.reduce(0) { $0 + $1.samples }
        #expect((120_000...123_072).contains(total), "2.5 s at 48 kHz, and the encoder's priming: \(total)")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-audio-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("audio.mp4")
        try files.reduce(into: Data()) { $0 += $1.data }.write(to: file)
        let stream = try run("ffprobe", ["-v", "error", "-select_streams", "a:0", "-show_entries",
                                         "stream=codec_name,profile,sample_rate,channels", "-of", "default=nw=1", file.path]).stdout
        #expect(stream.contains("codec_name=aac") && stream.contains("profile=LC") && stream.contains("sample_rate=48000")
                && stream.contains("channels=2"), "\(stream)")
        #expect(try FFprobe.decodeErrors(file.path).isEmpty)
        // Decoded, it is the same tone: its level (RMS of a 8000/32768 sine) and its duration.
        let raw = folder.appendingPathComponent("audio.f32")
        try run("ffmpeg", ["-v", "error", "-y", "-i", file.path, "-f", "f32le", raw.path])
        let decoded = try Data(contentsOf: raw).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(abs(Double(decoded.count) / 2 / 48_000 - 2.5) < 0.05, "\(decoded.count) samples, two channels")
        let steady = decoded[9_600..<(decoded.count - 9_600)]
        let rms = (steady.reduce(0) { $0 + Double($1 * $1) } / Double(steady.count)).squareRoot()
        #expect(abs(rms - 8_000 / 32_768 / 2.0.squareRoot()) < 0.01, "the mono tone at full level on both sides: RMS \(rms)")
    }

    @Test func impossibleInputIsAnErrorNotATrap() {
        #expect(throws: MediaError.self) { try AudioEncoder(inputRate: 0, inputChannels: 1, segmentSamples: 48_000) { _, _, _ in } }
        #expect(throws: MediaError.self) { try AudioEncoder(inputRate: 48_000, inputChannels: 99, segmentSamples: 48_000) { _, _, _ in } }
        #expect(throws: MediaError.self) { try AudioEncoder(inputRate: 48_000, inputChannels: 2, segmentSamples: 10) { _, _, _ in } }
    }

    /// RMS of interleaved stereo samples between two times.
    static func rms(_ track: [Float], from: Double, to: Double) -> Double {
        let slice = track[Int(from * 48_000) * 2..<Int(to * 48_000) * 2]
        return (slice.reduce(0) { $0 + Double($1 * $1) } / Double(slice.count)).squareRoot()
    }

    @Test func aScenesSoundsAreDecodedPlacedScaledAndMixedIntoOneTrack() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-mix-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let wav = PlanningFarmTests.wav(seconds: 0.2, rate: 44_100)  // mono 16-bit, 440 Hz at 8000/32768
        let flac = folder.appendingPathComponent("tone.flac")
        try run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=32000:duration=0.3",
                           "-ac", "2", flac.path])
        let track = try SoundMixer.mix([SoundMixer.Sound(data: wav, startSeconds: 0.5, gainDecibels: -6),
                                        SoundMixer.Sound(data: try Data(contentsOf: flac), startSeconds: 1.0)], seconds: 2)
        #expect(track.count == 2 * 96_000, "exactly the scene's two seconds, stereo")
        #expect(Self.rms(track, from: 0, to: 0.49) == 0, "silence before the first sound")
        let wavLevel = Self.rms(track, from: 0.52, to: 0.68)
        #expect(abs(wavLevel - 8_000.0 / 32_768 / 2.0.squareRoot() * pow(10, -6.0 / 20)) < 0.005, "at -6 dB: \(wavLevel)")
        #expect(Self.rms(track, from: 0.75, to: 0.95) < 0.001, "the WAV ended at 0.7 s")
        #expect(Self.rms(track, from: 1.05, to: 1.25) > 0.05, "the FLAC plays from 1 s")
        #expect(Self.rms(track, from: 1.4, to: 2.0) < 0.001)

        // Loud sounds clip at full scale. A scene of mono sounds only is mono in Manim's mix, which its encoder
        // upmixes 3 dB down on each side: clipped in mono, then lowered.
        let loud = try SoundMixer.mix([SoundMixer.Sound(data: wav, startSeconds: 0, gainDecibels: 40)], seconds: 0.3)
        let ceiling = Float(0.5.squareRoot())
        #expect(loud.allSatisfy { abs($0) <= ceiling + 1e-6 } && loud.contains { abs(abs($0) - ceiling) < 1e-6 })
        let alone = try SoundMixer.mix([SoundMixer.Sound(data: wav, startSeconds: 0)], seconds: 0.2)
        #expect(abs(Self.rms(alone, from: 0.02, to: 0.18) - 8_000.0 / 32_768 / 2) < 0.005, "a mono-only scene is 3 dB down")
        // The mix goes into the encoder as floats.
        var bytes = Data()
        let encoder = try AudioEncoder(inputRate: 48_000, inputChannels: 2, inputFormat: .float32, segmentSamples: 48_000) { bytes += $2 }
        try track.withUnsafeBufferPointer { try encoder.encode(interleaved: $0) }
        try encoder.finish()
        let file = folder.appendingPathComponent("mix.mp4")
        try bytes.write(to: file)
        let duration = try run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", file.path]).stdout
        #expect(abs((Double(duration.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) - 2) < 0.05, "\(duration)")
    }

    @Test func aSoundThatIsNotOneIsAnErrorNotATrap() {
        #expect(throws: MediaError.self) { try SoundMixer.mix([SoundMixer.Sound(data: Data("not a sound".utf8), startSeconds: 0)], seconds: 1) }
        #expect(throws: MediaError.self) { try SoundMixer.mix([SoundMixer.Sound(data: Data(), startSeconds: 0)], seconds: 1) }
        #expect(throws: MediaError.self) { try SoundMixer.mix([], seconds: .infinity) }
        #expect(throws: MediaError.self) { try SoundMixer.mix([SoundMixer.Sound(data: Data([1]), startSeconds: .nan)], seconds: 1) }
        // A WAV cut after 8 of its samples: those 8 samples (or an error), then silence, never garbage.
        let truncated = Data(PlanningFarmTests.wav(seconds: 0.5).prefix(60))
        if let track = try? SoundMixer.mix([SoundMixer.Sound(data: truncated, startSeconds: 0)], seconds: 1) {
            #expect(track.count == 96_000 && track.dropFirst(2 * 48).allSatisfy { $0 == 0 })
        }
    }
}
