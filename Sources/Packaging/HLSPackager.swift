import Foundation

/// Joins per-scene segments into HLS renditions, a master playlist and an MP4.
///
/// Scenes were encoded independently with identical settings, each starting at
/// time 0. The packager lays them end to end: every fragment's decode time is
/// set to its place in the whole video and fragments are renumbered, so the
/// playlists need no discontinuities and nothing is re-encoded.
public struct HLSPackager: Sendable {
    /// One scene's files for one rendition.
    public struct SceneFiles: Sendable {
        public var initSegment: URL
        /// Media segments in order, with their frame counts.
        public var segments: [(file: URL, frames: Int)]

        public init(initSegment: URL, segments: [(file: URL, frames: Int)]) {
            self.initSegment = initSegment
            self.segments = segments
        }
    }

    /// One rung of the ladder, scene by scene in playback order.
    public struct RenditionInput: Sendable {
        public var name: String
        public var width: Int
        public var height: Int
        public var codecs: String
        public var scenes: [SceneFiles]

        public init(name: String, width: Int, height: Int, codecs: String, scenes: [SceneFiles]) {
            self.name = name
            self.width = width
            self.height = height
            self.codecs = codecs
            self.scenes = scenes
        }
    }

    /// What was written.
    public struct Report: Sendable {
        public var masterPlaylist: URL
        public var mp4: URL
        public var frames: Int
        public var seconds: Double
        public var variants: [Playlists.Variant]
    }

    public var frameRate: Int
    /// Ticks per second of the tracks' timelines.
    public var timescale: Int
    public var targetSegmentSeconds: Int

    public init(frameRate: Int, timescale: Int, targetSegmentSeconds: Int) {
        self.frameRate = frameRate
        self.timescale = timescale
        self.targetSegmentSeconds = targetSegmentSeconds
    }

    /// Writes `master.m3u8`, one folder per rendition and `video.mp4` (the top
    /// rendition as one fragmented MP4) into `directory`, replacing it whole:
    /// the output is built beside it and renamed into place.
    /// Blocking file I/O: call it off Swift's cooperative pool.
    public func package(_ renditions: [RenditionInput], into directory: URL) throws -> Report {
        guard let top = renditions.first, top.scenes.contains(where: { !$0.segments.isEmpty }) else {
            throw PackagingError.empty
        }
        let fileManager = FileManager.default
        let building = directory.deletingLastPathComponent()
            .appendingPathComponent(".\(directory.lastPathComponent).building-\(UUID().uuidString)")
        try fileManager.createDirectory(at: building, withIntermediateDirectories: true)
        defer { try? fileManager.removeItem(at: building) }

        var variants: [Playlists.Variant] = []
        var frames = 0
        for (index, rendition) in renditions.enumerated() {
            let folder = building.appendingPathComponent(rendition.name)
            try fileManager.createDirectory(at: folder, withIntermediateDirectories: true)
            let mp4 = index == 0 ? building.appendingPathComponent("video.mp4") : nil
            let written = try writeRendition(rendition, into: folder, mp4: mp4)
            frames = written.frames
            // RFC 8216 §4.3.4.2 measures the peak over runs of the media playlist's own
            // TARGETDURATION, which is shorter than the encoder's segment limit when scenes are short.
            let bandwidth = Bandwidth(segments: written.segments.map { ($0.bytes, $0.seconds) },
                                      targetDuration: Double(Playlists.targetDuration(of: written.segments)))
            // CODECS as the init segment's SPS says, never a string from elsewhere.
            variants.append(Playlists.Variant(
                uri: "\(rendition.name)/index.m3u8", bandwidth: bandwidth, codecs: written.codecs,
                width: rendition.width, height: rendition.height, frameRate: Double(frameRate)))
        }
        try OutputFiles.write(Data(Playlists.master(variants: variants).utf8), to: building.appendingPathComponent("master.m3u8"))
        try OutputFiles.makeDurable(building)

        if fileManager.fileExists(atPath: directory.path) { try fileManager.removeItem(at: directory) }
        try fileManager.moveItem(at: building, to: directory)
        return Report(masterPlaylist: directory.appendingPathComponent("master.m3u8"),
                      mp4: directory.appendingPathComponent("video.mp4"),
                      frames: frames, seconds: Double(frames) / Double(frameRate), variants: variants)
    }

    private func writeRendition(_ rendition: RenditionInput, into folder: URL, mp4: URL?) throws
        -> (frames: Int, segments: [PlaylistSegment], codecs: String)
    {
        guard frameRate > 0, timescale > 0, timescale % frameRate == 0 else {
            throw PackagingError.malformedFragment("timescale \(timescale) does not hold whole frames at \(frameRate) fps")
        }
        let ticksPerFrame = UInt64(timescale / frameRate)
        var initSegment: Data?
        var codecs = "avc1"  // replaced by the first init segment's SPS
        var segments: [PlaylistSegment] = []
        var frames = 0
        var mp4Handle: FileHandle?
        defer { try? mp4Handle?.close() }

        for (sceneIndex, scene) in rendition.scenes.enumerated() where !scene.segments.isEmpty {
            let sceneInit = try Data(contentsOf: scene.initSegment)
            if let initSegment {
                guard initSegment == sceneInit else {
                    throw PackagingError.incompatibleInitSegments(rendition: rendition.name, scene: sceneIndex)
                }
            } else {
                codecs = try SegmentInspector.initSegment(sceneInit).codecs
                initSegment = sceneInit
                try OutputFiles.write(sceneInit, to: folder.appendingPathComponent("init.mp4"))
                if let mp4 {
                    try OutputFiles.write(sceneInit, to: mp4)
                    mp4Handle = try FileHandle(forWritingTo: mp4)
                    try mp4Handle?.seekToEnd()
                }
            }
            for part in scene.segments {
                let (decodeTime, overflow) = UInt64(frames).multipliedReportingOverflow(by: ticksPerFrame)
                guard part.frames > 0, !overflow, segments.count < UInt32.max - 1,
                      frames <= Int.max - part.frames else {
                    throw PackagingError.malformedFragment("segment \(segments.count + 1) leaves the timeline's range")
                }
                let fragment = try FragmentRewriter.rewrite(
                    Data(contentsOf: part.file), sequenceNumber: UInt32(segments.count + 1), baseDecodeTime: decodeTime)
                let name = String(format: "segment_%05d.m4s", segments.count + 1)
                try OutputFiles.write(fragment, to: folder.appendingPathComponent(name))
                try mp4Handle?.write(contentsOf: fragment)
                segments.append(PlaylistSegment(uri: name, seconds: Double(part.frames) / Double(frameRate),
                                                 bytes: fragment.count))
                frames += part.frames
            }
        }
        try OutputFiles.write(Data(Playlists.media(initURI: "init.mp4", segments: segments).utf8),
                              to: folder.appendingPathComponent("index.m3u8"))
        return (frames, segments, codecs)
    }
}
