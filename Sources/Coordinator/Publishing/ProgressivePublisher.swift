import FarmModel
import FarmProtocol
import Foundation
import Logging
import ObjectStorage
import Packaging

/// Publishes a video to the object store while it renders: as soon as the
/// tasks at the start of the timeline are accepted, their segments are copied
/// (inside the store) to the video's folder and `EVENT` media playlists list
/// them; every accepted task that extends the contiguous prefix extends the
/// playlists. `finish` switches them to `VOD` with `ENDLIST` at the same URIs,
/// writes the final master playlist and completes `video.mp4`, which grows
/// alongside as an upload in parts. The store cannot join objects under 5 MiB
/// itself, so each part (about 16 MiB of the top rung's published objects) is
/// built by a `PartJoiner` (an agent, which fetches the objects and puts the
/// part) and, when none is there or it fails, by the publisher reading them back.
///
/// A playlist is written only after every segment it lists is in place, so a
/// player never sees a URI that is not there and complete.
@_spi(Benchmark) public actor ProgressivePublisher {
    /// What one video has published so far.
    struct Progress {
        var tasks = 0
        var frames = 0
        var segments: [[PlaylistSegment]] = []
        var initPublished: [Bool] = []
        var initIdentity: [(size: Int, crc: UInt32)?] = []
        var codecs: [String] = []
        var sizes: [(width: Int, height: Int)] = []
        var frameRate = 0
        /// The first rendered task's source size, frame rate and timescale: every other must match it.
        var source: (width: Int, height: Int, frameRate: Int, timescale: Int)?
        var mp4 = MP4Upload()
        /// Scenes without animations, published as `stills/<Scene>.png`, and their bytes.
        var stills: [String] = []
        var stillBytes = 0
        /// The sound's rendition, its MP4 pieces with their start times, and its init segment (see `publishSound`).
        var sound: Playlists.AudioRendition?
        var soundPieces: [(piece: MP4Piece, start: Double)] = []
        var soundInit: Data?
        var soundBytes = 0
    }

    /// `video.mp4` as an upload in parts: the top rung's objects not yet in a part, and the parts.
    struct MP4Upload {
        var uploadID: String?
        var pending: [MP4Piece] = []
        var pendingBytes = 0
        /// Each part's objects and ETag, by part number - 1.
        var parts: [(pieces: [MP4Piece], etag: String)] = []
        var bytes: Int { parts.reduce(pendingBytes) { $0 + $1.pieces.reduce(0) { $0 + $1.size } } }
    }

    /// The video's record and its render tasks in playback order, as the core holds them now.
    public typealias Snapshot = @Sendable () async -> (VideoRecord, [TaskRecord])?

    let objects: ObjectOutputConfiguration
    var progress: [String: Progress] = [:]
    private var busy: Set<String> = []
    private var again: Set<String> = []
    /// Media bytes the coordinator itself moved (see `ObjectTraffic`).
    public private(set) var replacedBytes = 0
    public internal(set) var mp4Bytes = 0

    /// Builds parts elsewhere (agents); without one, or when it fails, the publisher reads the pieces back.
    var joiner: PartJoiner?
    let logger = Logger(label: "farm.publisher")
    /// Parts agents built, and parts built here although a joiner was set.
    public internal(set) var joinedParts = 0
    public internal(set) var partsBuiltHere = 0

    public init(objects: ObjectOutputConfiguration) {
        self.objects = objects
    }

    public func setJoiner(_ joiner: PartJoiner?) {
        self.joiner = joiner
    }

    /// Where a still scene's picture is published, inside the video's folder.
    public static func stillPath(_ scene: String) -> String { "stills/\(scene).png" }

    /// Seconds of the video a player can watch now.
    func playableSeconds(_ videoID: String) -> Double? {
        guard let progress = progress[videoID], progress.frameRate > 0, progress.frames > 0 else { return nil }
        return Double(progress.frames) / Double(progress.frameRate)
    }

    /// Stops publishing a video that ended without finishing (failed, cancelled, erased): waits for a
    /// running advance, then drops its progress and abandons its MP4 upload. Returns whether anything
    /// had been published, which the caller then deletes (a playlist that never ends must not stay).
    func abandon(_ videoID: String) async -> Bool {
        while busy.contains(videoID) { try? await Task.sleep(for: .milliseconds(20)) }
        guard let abandoned = progress.removeValue(forKey: videoID) else { return false }
        if let uploadID = abandoned.mp4.uploadID, uploadID != Self.singlePut {
            await objects.store.abortMultipartUpload(key: objects.outputKey(videoID: videoID, path: "video.mp4"), uploadID: uploadID)
        }
        return true
    }

    /// Publishes every newly contiguous accepted task. Calls for one video never
    /// overlap: a call during a running one makes it look again when done.
    public func advance(_ videoID: String, snapshot: Snapshot) async throws {
        guard !busy.contains(videoID) else {
            again.insert(videoID)
            return
        }
        busy.insert(videoID)
        defer { busy.remove(videoID) }
        repeat {
            again.remove(videoID)
            // Once assembling, `finish` owns the video: a late advance must not write a growing playlist over a finished one.
            guard let (video, tasks) = await snapshot(), video.state == .queued || video.state == .rendering else { return }
            try await publishPrefix(video, tasks, ended: false)
        } while again.contains(videoID)
    }

    /// Publishes the rest, then the final playlists and the MP4. Returns the video's frames and seconds.
    public func finish(_ video: VideoRecord, _ tasks: [TaskRecord], sound: SoundTrack? = nil) async throws
        -> (frames: Int, seconds: Double, bytes: Int64)
    {
        while busy.contains(video.id) { try await Task.sleep(for: .milliseconds(20)) }
        busy.insert(video.id)
        defer { busy.remove(video.id) }
        // The sound's playlist is in place before the final master playlist names it.
        if let sound { try await publishSound(video, sound) }
        try await publishPrefix(video, tasks, ended: true)
        if sound != nil { try await interleaveSoundIntoMP4(video) }
        guard let done = progress[video.id], done.tasks == tasks.count, done.frames > 0 || !done.stills.isEmpty else {
            throw PackagingError.empty
        }
        guard done.frames > 0 else {
            // Only stills: pictures and no movie, as Manim makes of such a script.
            progress[video.id] = nil
            return (0, 0, Int64(done.stillBytes))
        }
        try await sendParts(video.id, final: true)
        try await completeMP4(video.id, progress[video.id]?.mp4 ?? done.mp4)
        if sound != nil { _ = try? await objects.store.deletePrefix(objects.outputKey(videoID: video.id, path: Self.mergedInitPath)) }
        progress[video.id] = nil
        // What the team stores: every rung's segments, the MP4 (a second copy of the top rung), the stills.
        let bytes = done.segments.flatMap { $0 }.reduce(Int64(0)) { $0 + Int64($1.bytes) }
            + (done.segments.first ?? []).reduce(Int64(0)) { $0 + Int64($1.bytes) } + Int64(done.stillBytes)
            + Int64(done.soundBytes) * 2
        return (done.frames, Double(done.frames) / Double(done.frameRate), bytes)
    }

    private func publishPrefix(_ video: VideoRecord, _ tasks: [TaskRecord], ended: Bool) async throws {
        var state = progress[video.id] ?? Progress()
        let rungs = video.encoding.renditions
        if state.segments.isEmpty {
            state.segments = Array(repeating: [], count: rungs.count)
            state.initPublished = Array(repeating: false, count: rungs.count)
            state.initIdentity = Array(repeating: nil, count: rungs.count)
            state.codecs = Array(repeating: "avc1", count: rungs.count)
            state.sizes = Array(repeating: (0, 0), count: rungs.count)
        }
        let before = state.tasks
        while state.tasks < tasks.count, tasks[state.tasks].state == .done, let result = tasks[state.tasks].result {
            try await publish(tasks[state.tasks], result, of: video, into: &state)
            state.tasks += 1
            progress[video.id] = state  // what is copied stays copied, even if a later task fails
        }
        guard state.tasks > before || ended, state.frames > 0 else { return }
        let complete = ended && state.tasks == tasks.count
        try await writePlaylists(video, state, complete: complete)
        // After the playlists: a player sees new segments before the MP4's slower parts are built. A video
        // with sounds holds them: its MP4 interleaves the sound, which is made once every scene is in.
        guard !tasks.contains(where: { $0.work.sounds?.isEmpty == false }) else { return }
        try await sendParts(video.id, final: false)
    }

    /// Copies one task's segments into place, rung by rung.
    private func publish(_ task: TaskRecord, _ result: TaskResult, of video: VideoRecord, into state: inout Progress) async throws {
        if let still = result.still {
            try await objects.store.put(still.png, key: objects.outputKey(videoID: video.id, path: Self.stillPath(task.scene)),
                                        contentType: "image/png", cacheControl: ObjectOutputConfiguration.Caching.finished)
            state.stills.append(task.scene)
            state.stillBytes += still.png.count
            // With frames, the still is on screen in the video too: its segments follow like any scene's.
        }
        guard result.frames > 0 else { return }
        // Results were verified when accepted; a cached one may predate that, so check again rather than index blindly.
        guard result.renditions.count == state.segments.count, (try? result.validate()) != nil else {
            throw AssemblyError.inconsistentScenes("scene \(task.scene)'s result does not describe the video's \(state.segments.count) renditions")
        }
        let source = (width: result.sourceWidth, height: result.sourceHeight, frameRate: result.frameRate, timescale: result.timescale)
        if state.source == nil { state.source = source }
        guard let first = state.source, first == source else {
            let first = state.source!
            throw AssemblyError.inconsistentScenes(
                "scene \(task.scene) rendered at \(source.width)x\(source.height)@\(source.frameRate) but the video's first at "
                    + "\(first.width)x\(first.height)@\(first.frameRate) (does the script set config.frame_rate or the resolution?)")
        }
        state.frameRate = result.frameRate
        let ticksPerFrame = UInt64(result.timescale / result.frameRate)
        let placed = result.placedAt == state.frames
        let client = objects.store
        var topRung: [MP4Piece] = []  // the task's share of video.mp4, appended once the whole task is in place
        for (index, rendition) in result.renditions.enumerated() {
            let rung = video.encoding.renditions[index].name
            let source = { (name: String) in self.objects.attemptKey(videoID: video.id, ref: AttemptRef(taskID: task.id, attempt: task.attempt), file: name) }
            // Every scene's init segment must be the same bytes; the first one is the rung's.
            if let identity = state.initIdentity[index] {
                guard identity.size == rendition.initSize, identity.crc == rendition.initCRC32 else {
                    throw PackagingError.incompatibleInitSegments(rendition: rung, scene: task.ordinal)
                }
            } else {
                let initName = OutputPlacement.fileName(SegmentID(rendition: index, segment: nil))
                let initSegment = try await client.get(source(initName))
                state.codecs[index] = (try? SegmentInspector.initSegment(initSegment).codecs) ?? rendition.codecs
                let initKey = objects.outputKey(videoID: video.id, path: "\(rung)/init.mp4")
                try await client.put(initSegment, key: initKey, contentType: "video/mp4",
                                     cacheControl: ObjectOutputConfiguration.Caching.immutable)
                if index == 0 { topRung.append(MP4Piece(key: initKey, size: initSegment.count)) }
                state.initIdentity[index] = (rendition.initSize, rendition.initCRC32)
                state.sizes[index] = (rendition.width, rendition.height)
            }
            var frame = state.frames
            for segment in rendition.segments {
                let number = state.segments[index].count + 1
                let name = String(format: "segment_%05d.m4s", number)
                let target = objects.outputKey(videoID: video.id, path: "\(rung)/\(name)")
                let from = source(OutputPlacement.fileName(SegmentID(rendition: index, segment: segment.index)))
                if placed {
                    try await client.copy(from: from, to: target, contentType: "video/iso.segment",
                                          cacheControl: ObjectOutputConfiguration.Caching.immutable)
                    if index == 0 { topRung.append(MP4Piece(key: target, size: segment.size)) }
                } else {
                    // Rendered before its place was known: moved on the timeline here, bytes and all.
                    let (ticks, overflow) = UInt64(frame).multipliedReportingOverflow(by: ticksPerFrame)
                    guard !overflow, frame < Int(UInt32.max) else { throw PackagingError.malformedFragment("segment \(number) leaves the timeline") }
                    let moved = try FragmentRewriter.rewrite(try await client.get(from), sequenceNumber: UInt32(frame + 1),
                                                             baseDecodeTime: ticks)
                    try await client.put(moved, key: target, contentType: "video/iso.segment",
                                         cacheControl: ObjectOutputConfiguration.Caching.immutable)
                    replacedBytes += moved.count
                    if index == 0 { topRung.append(MP4Piece(key: target, size: moved.count)) }
                }
                state.segments[index].append(PlaylistSegment(
                    uri: name, seconds: Double(segment.frames) / Double(result.frameRate), bytes: segment.size))
                frame += segment.frames
            }
        }
        state.frames += result.frames
        state.mp4.pending += topRung
        state.mp4.pendingBytes += topRung.reduce(0) { $0 + $1.size }
    }

    private func writePlaylists(_ video: VideoRecord, _ state: Progress, complete: Bool) async throws {
        // The target duration may not change while the playlist grows: the longest segment the encoder cuts.
        let target = max(video.encoding.segmentSeconds, 1)
        let caching = complete ? ObjectOutputConfiguration.Caching.finished : ObjectOutputConfiguration.Caching.growing
        var variants: [Playlists.Variant] = []
        for (index, rendition) in video.encoding.renditions.enumerated() {
            let text = Playlists.media(initURI: "init.mp4", segments: state.segments[index],
                                       kind: .event(ended: complete), targetDuration: target)
            try await objects.store.put(Data(text.utf8), key: objects.outputKey(videoID: video.id, path: "\(rendition.name)/index.m3u8"),
                                         contentType: "application/vnd.apple.mpegurl", cacheControl: caching)
            variants.append(Playlists.Variant(
                uri: "\(rendition.name)/index.m3u8",
                // Measured over runs of the TARGETDURATION this playlist declares.
                bandwidth: Bandwidth(segments: state.segments[index].map { ($0.bytes, $0.seconds) },
                                     targetDuration: Double(max(target, Playlists.targetDuration(of: state.segments[index])))),
                codecs: state.codecs[index], width: state.sizes[index].width, height: state.sizes[index].height,
                frameRate: Double(state.frameRate)))
        }
        try await objects.store.put(Data(Playlists.master(variants: variants, audio: state.sound).utf8),
                                     key: objects.outputKey(videoID: video.id, path: "master.m3u8"),
                                     contentType: "application/vnd.apple.mpegurl", cacheControl: caching)
    }
}
