import FarmModel
import FarmProtocol
import Foundation
import Media
import Packaging
import Testing

@Suite struct MediaAndPackagingTests {
    /// Encodes `seconds` of a moving gradient at 15 fps into the given ladder.
    static func encode(seconds: Int, heights: [Int]) throws -> (files: [EncodedFile], summaries: [SceneEncoder.RenditionSummary], timescale: Int) {
        let width = 320, height = 180, fps = 15
        var files: [EncodedFile] = []
        let encoder = try SceneEncoder(.init(
            sourceWidth: width, sourceHeight: height, frameRate: fps, renditions: heights.map { ($0, 23) },
            keyframeSeconds: 2, segmentSeconds: 6, preset: "veryfast")) { files.append($0) }
        for frame in 0..<(seconds * fps) {
            let pixels = gradient(frame: frame, width: width, height: height)
            try pixels.withUnsafeBytes { try encoder.encode(rgba: $0.baseAddress!, stride: width * 4, repeatCount: repeats(frame)) }
        }
        let summaries = try encoder.finish()
        return (files, summaries, encoder.timescale)
    }

    /// Frame `frame` of a moving gradient, RGBA.
    static func gradient(frame: Int, width: Int, height: Int) -> [UInt8] {
        var pixels = [UInt8](repeating: 255, count: width * height * 4)
        for y in 0..<height {
            for x in 0..<width {
                let offset = (y * width + x) * 4
                pixels[offset] = UInt8((x + frame * 4) & 0xFF)
                pixels[offset + 1] = UInt8((y * 2) & 0xFF)
                pixels[offset + 2] = UInt8((frame * 8) & 0xFF)
            }
        }
        return pixels
    }

    /// Every tenth frame is a still held for three frames, as Manim sends waits.
    static func repeats(_ frame: Int) -> Int { frame % 10 == 0 ? 3 : 1 }

    @Test func aSmallerRenditionScaledFromALargerOneIsTheSourceScaledDirectly() throws {
        // 180 is the source, 120 scales from it, and 80 from 120's picture (`PictureHandoff`).
        let (files, summaries, _) = try Self.encode(seconds: 4, heights: [180, 120, 80])
        #expect(summaries.map(\.height) == [180, 120, 80])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-cascade-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var raw = Data()
        for frame in 0..<60 {
            let pixels = Self.gradient(frame: frame, width: 320, height: 180)
            for _ in 0..<Self.repeats(frame) { raw.append(contentsOf: pixels) }
        }
        let source = folder.appendingPathComponent("source.rgba")
        try raw.write(to: source)
        for (rendition, summary) in summaries.enumerated() {
            let mp4 = folder.appendingPathComponent("\(summary.height).mp4")
            let rung = files.filter { $0.rendition == rendition }.sorted { ($0.segment ?? -1) < ($1.segment ?? -1) }
            try rung.reduce(into: Data()) { $0.append($1.data) }.write(to: mp4)
            // Against the source scaled straight to the rung's size, bicubic (as ffmpeg's scale filter).
            let output = try run("ffmpeg", ["-v", "info", "-i", mp4.path, "-f", "rawvideo", "-pix_fmt", "rgba", "-s", "320x180",
                                            "-framerate", "15", "-i", source.path, "-lavfi",
                                            "[1:v]scale=\(summary.width):\(summary.height):flags=bicubic:out_color_matrix=bt709:out_range=tv,format=yuv420p[direct];"
                                                + "[0:v]setpts=PTS-STARTPTS[farm];[farm][direct]psnr", "-f", "null", "-"]).stderr
            let psnr = output.split(separator: "\n").last { $0.contains("PSNR") }?.split(separator: " ")
                .first { $0.hasPrefix("average:") }.flatMap { Double($0.dropFirst("average:".count)) } ?? 0
            #expect(psnr > 38, "\(summary.height)p against the source scaled directly: \(psnr) dB")
            let frames = output.components(separatedBy: "frame=").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces).prefix { $0.isNumber }) }
            #expect(frames == 72, "\(summary.height)p has every frame (\(frames ?? -1))")
        }
    }

    @Test func aSceneIsCutIntoSixSecondSegmentsWithTheSameBoundariesInEveryRendition() throws {
        let (files, summaries, timescale) = try Self.encode(seconds: 10, heights: [180, 120])
        let expectedFrames = 150 + 15 * 2  // 150 frames, 15 of them held twice more
        #expect(timescale == 90_000)
        #expect(summaries.map(\.height) == [180, 120])
        #expect(summaries[1].width == 214, "widths keep the aspect ratio and stay even")
        #expect(summaries.allSatisfy { $0.codecs.hasPrefix("avc1.64") }, "High profile")
        for rendition in 0..<2 {
            let segments = files.filter { $0.rendition == rendition && $0.segment != nil }
            #expect(files.filter { $0.rendition == rendition && $0.segment == nil }.count == 1)
            #expect(segments.map(\.frames) == [90, expectedFrames - 90])
            #expect(segments.map(\.segment) == [0, 1])
        }
    }

    @Test func rewrittenFragmentsPlayAsOneContinuousStream() throws {
        // Two "scenes" of 4 s each, joined: the second one's decode times must continue after the first.
        let first = try Self.encode(seconds: 4, heights: [180])
        let second = try Self.encode(seconds: 4, heights: [180])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-packaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var scenes: [HLSPackager.SceneFiles] = []
        for (index, scene) in [first, second].enumerated() {
            let initURL = folder.appendingPathComponent("s\(index)-init.mp4")
            try scene.files.first { $0.segment == nil }!.data.write(to: initURL)
            let parts = try scene.files.filter { $0.segment != nil }.map { file -> (URL, Int) in
                let url = folder.appendingPathComponent("s\(index)-\(file.segment!).m4s")
                try file.data.write(to: url)
                return (url, file.frames)
            }
            scenes.append(HLSPackager.SceneFiles(initSegment: initURL, segments: parts))
        }
        let output = folder.appendingPathComponent("out")
        let report = try HLSPackager(frameRate: 15, timescale: first.timescale, targetSegmentSeconds: 6).package(
            [HLSPackager.RenditionInput(name: "180p", width: 320, height: 180, codecs: first.summaries[0].codecs, scenes: scenes)],
            into: output)
        let framesPerScene = 60 + 6 * 2
        #expect(report.frames == 2 * framesPerScene)

        let times = try FFprobe.frameTimes(output.appendingPathComponent("video.mp4").path)
        #expect(times.count == 2 * framesPerScene, "every frame of both scenes plays, not only the first scene's")
        for (index, time) in times.enumerated() {
            #expect(abs(time - Double(index) / 15) < 0.0001, "frame \(index) at \(time)")
        }
        let playlist = try String(contentsOf: output.appendingPathComponent("180p/index.m3u8"), encoding: .utf8)
        #expect(!playlist.contains("DISCONTINUITY"))
        #expect(playlist.contains("#EXT-X-ENDLIST"))
    }

    @Test func aFragmentWithoutDecodeTimeIsRejected() {
        let notAFragment = Data([0, 0, 0, 16, 0x66, 0x72, 0x65, 0x65] + [UInt8](repeating: 0, count: 8))
        #expect(throws: PackagingError.malformedFragment("no tfdt box")) {
            try FragmentRewriter.rewrite(notAFragment, sequenceNumber: 1, baseDecodeTime: 0)
        }
        #expect(throws: PackagingError.self) {
            try FragmentRewriter.rewrite(Data([0, 0, 0, 99, 0x6D, 0x6F, 0x6F, 0x66]), sequenceNumber: 1, baseDecodeTime: 0)
        }
    }

    @Test func peakBandwidthIsTheBusiestRunOfHalfToOneAndAHalfTargetDurations() {
        let segments = [(bytes: 600_000, seconds: 6.0), (bytes: 1_200_000, seconds: 6.0), (bytes: 100, seconds: 0.1)]
        let bandwidth = Bandwidth(segments: segments, targetDuration: 6)
        #expect(bandwidth.peak == 1_600_000)
        #expect(bandwidth.average == Int((Double(1_800_100 * 8) / 12.1).rounded(.up)))
    }

    /// A short first scene of noise (the largest segment) and two calm 4 s scenes:
    /// the playlist's TARGETDURATION is 4, so runs of 2 s already count and the
    /// noisy segment alone sets the peak. Measured with the 6 s segment limit
    /// instead, it would be diluted by its calm neighbour and under-declared.
    @Test func declaredPeakMatchesTheRFCPeakOfTheWrittenFiles() throws {
        let width = 320, height = 180, fps = 15
        func scene(frames: Int, noisy: Bool) throws -> (files: [EncodedFile], timescale: Int) {
            var files: [EncodedFile] = []
            let encoder = try SceneEncoder(.init(
                sourceWidth: width, sourceHeight: height, frameRate: fps, renditions: [(180, 23)],
                keyframeSeconds: 2, segmentSeconds: 6, preset: "veryfast")) { files.append($0) }
            var generator = SystemRandomNumberGenerator()
            var pixels = [UInt8](repeating: 200, count: width * height * 4)
            for _ in 0..<frames {
                if noisy { for index in pixels.indices { pixels[index] = UInt8.random(in: 0...255, using: &generator) } }
                try pixels.withUnsafeBytes { try encoder.encode(rgba: $0.baseAddress!, stride: width * 4, repeatCount: 1) }
            }
            _ = try encoder.finish()
            return (files, encoder.timescale)
        }
        let scenes = [try scene(frames: 36, noisy: true), try scene(frames: 60, noisy: false), try scene(frames: 60, noisy: false)]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-bandwidth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var inputs: [HLSPackager.SceneFiles] = []
        for (index, scene) in scenes.enumerated() {
            let initURL = folder.appendingPathComponent("s\(index)-init.mp4")
            try scene.files.first { $0.segment == nil }!.data.write(to: initURL)
            let parts = try scene.files.filter { $0.segment != nil }.map { file -> (URL, Int) in
                let url = folder.appendingPathComponent("s\(index)-\(file.segment!).m4s")
                try file.data.write(to: url)
                return (url, file.frames)
            }
            inputs.append(HLSPackager.SceneFiles(initSegment: initURL, segments: parts))
        }
        let output = folder.appendingPathComponent("out")
        _ = try HLSPackager(frameRate: fps, timescale: scenes[0].timescale, targetSegmentSeconds: 6).package(
            [HLSPackager.RenditionInput(name: "180p", width: width, height: height, codecs: "avc1", scenes: inputs)],
            into: output)
        let check = try PlaylistCheck(
            master: try String(contentsOf: output.appendingPathComponent("master.m3u8"), encoding: .utf8), folder: output)
        let variant = try #require(check.variants.first)
        let media = try check.media(variant)
        #expect(media.extinfs == [2.4, 4, 4])
        let sizes = try media.segments.map {
            try FileManager.default.attributesOfItem(atPath: output.appendingPathComponent("180p/\($0)").path)[.size] as? Int ?? 0
        }
        #expect(sizes[0] > sizes[1] && sizes[0] > sizes[2], "the first segment is the largest: \(sizes)")
        let peak = try check.rfcPeakBandwidth(variant)
        #expect(peak == Double(sizes[0] * 8) / 2.4, "the noisy segment alone is a qualifying run")
        #expect(Double(variant.bandwidth) >= peak && Double(variant.bandwidth) <= peak + 1,
                "declared \(variant.bandwidth), RFC peak \(peak)")
    }

    @Test func aShortDenseTailDoesNotInflateThePeak() {
        // The 0.1 s tail alone runs at 4.8 Mbit/s but is too short to be a run of its own.
        let bandwidth = Bandwidth(segments: [(600_000, 6.0), (60_000, 0.1)], targetDuration: 6)
        #expect(bandwidth.peak == Int((Double(660_000 * 8) / 6.1).rounded(.up)))
    }

    @Test func mediaPlaylistsDeclareATargetDurationCoveringEverySegment() {
        let text = Playlists.media(initURI: "init.mp4", segments: [
            PlaylistSegment(uri: "a.m4s", seconds: 6.0, bytes: 1), PlaylistSegment(uri: "b.m4s", seconds: 6.4, bytes: 1),
        ])
        #expect(text.contains("#EXT-X-TARGETDURATION:6\n"))
        #expect(text.contains("#EXT-X-PLAYLIST-TYPE:VOD"))
        #expect(text.contains("#EXT-X-MAP:URI=\"init.mp4\""))
        #expect(text.hasSuffix("#EXT-X-ENDLIST\n"))
    }
}
