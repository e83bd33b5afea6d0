import Foundation
import Media
import Testing

/// The audio half of a rendition: a sound track (any rate, any channel count) resampled with libswresample
/// and encoded by libavcodec into AAC-LC at 48 kHz stereo, in fMP4 fragments cut at a sample count, so audio
/// segments can line up with the video's.
@Suite struct AudioEncoderTests {
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
        try run("ffmpeg", ["-v", "error", "-y", "-i", file.path, "-ac", "1", "-f", "f32le", raw.path])
        let decoded = try Data(contentsOf: raw).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(abs(Double(decoded.count) / 48_000 - 2.5) < 0.05, "\(decoded.count) samples")
        let steady = decoded[4_800..<(decoded.count - 4_800)]
        let rms = (steady.reduce(0) { $0 + Double($1 * $1) } / Double(steady.count)).squareRoot()
        #expect(abs(rms - 8_000 / 32_768 / 2.0.squareRoot()) < 0.01, "RMS \(rms)")
    }

    @Test func impossibleInputIsAnErrorNotATrap() {
        #expect(throws: MediaError.self) { try AudioEncoder(inputRate: 0, inputChannels: 1, segmentSamples: 48_000) { _, _, _ in } }
        #expect(throws: MediaError.self) { try AudioEncoder(inputRate: 48_000, inputChannels: 99, segmentSamples: 48_000) { _, _, _ in } }
        #expect(throws: MediaError.self) { try AudioEncoder(inputRate: 48_000, inputChannels: 2, segmentSamples: 10) { _, _, _ in } }
    }
}
