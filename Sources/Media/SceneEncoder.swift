import CFFmpeg
import Foundation

/// Encodes one scene's frames into every rendition of a ladder.
///
/// Each source frame is converted from RGBA to YUV 4:2:0 once, then scaled
/// (from the next larger scaled rendition where there is one) and encoded once per rendition, the renditions in parallel (one single-threaded x264 per rendition costs less CPU per frame
/// than threaded x264); they share IDR frames and segment boundaries. Output
/// files are handed to `output` as soon as they are complete, in rendition
/// order, on the calling thread. Blocking and CPU-bound: call it from a
/// dedicated thread, never from Swift's cooperative pool.
public final class SceneEncoder {
    /// What to produce.
    public struct Configuration: Sendable {
        public var sourceWidth: Int
        public var sourceHeight: Int
        public var frameRate: Int
        /// Output heights with their x264 CRF, highest first.
        public var renditions: [(height: Int, crf: Int)]
        public var keyframeSeconds: Int
        public var segmentSeconds: Int
        public var preset: String

        public init(sourceWidth: Int, sourceHeight: Int, frameRate: Int, renditions: [(height: Int, crf: Int)],
                    keyframeSeconds: Int, segmentSeconds: Int, preset: String) {
            self.sourceWidth = sourceWidth
            self.sourceHeight = sourceHeight
            self.frameRate = frameRate
            self.renditions = renditions
            self.keyframeSeconds = keyframeSeconds
            self.segmentSeconds = segmentSeconds
            self.preset = preset
        }
    }

    /// What one rendition turned out to be.
    public struct RenditionSummary: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var codecs: String
    }

    /// Where the encoding time went, in seconds.
    public struct Timings: Sendable, Equatable {
        /// RGBA to YUV 4:2:0 on the calling thread (CPU).
        public var convertCPU = 0.0
        /// Per rendition, highest first (CPU of each rendition's thread).
        public var scaleCPU: [Double] = []
        public var encodeCPU: [Double] = []
        /// The calling thread waiting for every rendition to take a frame (wall).
        public var encodeWall = 0.0
        /// Handing finished files to `output` (wall).
        public var deliver = 0.0
    }

    /// libav and x264 print per-encoder statistics at the default level; keep only errors.
    private static let quietLibav: Void = av_log_set_level(AV_LOG_ERROR)

    private let encoders: [RenditionEncoder]
    private let workers: [EncoderWorker]
    /// Files each rendition finished during the last call, delivered afterwards on the calling thread.
    private let finished: [FileBox]
    private let output: (EncodedFile) -> Void
    private let converter: SourceConverter
    private var convertCPU = 0.0
    private var encodeWall = 0.0
    private var deliverWall = 0.0

    private final class FileBox {
        var files: [EncodedFile] = []
    }
    /// Ticks per second of every rendition's media timeline.
    public let timescale: Int

    /// Opens one encoder per rendition; their init segments are emitted at once.
    /// - Throws: `MediaError` if libx264 is missing or a setting is invalid.
    public init(_ configuration: Configuration, output: @escaping (EncodedFile) -> Void) throws(MediaError) {
        Self.quietLibav
        guard configuration.frameRate > 0, configuration.sourceWidth > 0, configuration.sourceHeight > 0 else {
            throw MediaError("invalid source \(configuration.sourceWidth)x\(configuration.sourceHeight)@\(configuration.frameRate)")
        }
        guard configuration.segmentSeconds % configuration.keyframeSeconds == 0 else {
            throw MediaError("segment length must be a multiple of the keyframe interval")
        }
        let keyframeInterval = Int64(configuration.keyframeSeconds * configuration.frameRate)
        let segmentFrames = Int64(configuration.segmentSeconds * configuration.frameRate)
        var encoders: [RenditionEncoder] = []
        let finished = configuration.renditions.map { _ in FileBox() }
        for (index, rung) in configuration.renditions.enumerated() {
            let height = rung.height & ~1
            // Keep the source's aspect ratio; H.264 4:2:0 wants even dimensions.
            let width = Int((Double(configuration.sourceWidth) * Double(height) / Double(configuration.sourceHeight) / 2).rounded()) * 2
            // A rendition scales from the next larger one when that one is scaled itself (see `PictureHandoff`).
            var upstream: PictureHandoff?
            var sourceWidth = Int32(configuration.sourceWidth), sourceHeight = Int32(configuration.sourceHeight)
            if let larger = encoders.last, larger.isScaled, larger.height > Int32(height) {
                let handoff = try PictureHandoff()
                larger.downstream = handoff
                upstream = handoff
                (sourceWidth, sourceHeight) = (larger.width, larger.height)
            }
            encoders.append(try RenditionEncoder(
                sourceWidth: sourceWidth, sourceHeight: sourceHeight,
                width: Int32(width), height: Int32(height), frameRate: Int32(configuration.frameRate),
                crf: rung.crf, preset: configuration.preset,
                keyframeInterval: keyframeInterval, segmentFrames: segmentFrames, upstream: upstream,
                emit: { [box = finished[index]] segment, frames, data in
                    box.files.append(EncodedFile(rendition: index, segment: segment, frames: frames, data: data))
                }))
        }
        self.encoders = encoders
        self.workers = encoders.map { _ in EncoderWorker() }
        self.finished = finished
        self.output = output
        self.converter = try SourceConverter(width: Int32(configuration.sourceWidth), height: Int32(configuration.sourceHeight))
        self.timescale = Int(encoders.first?.timescale ?? 90_000)
        deliver()
    }

    /// Encodes a top-left, tightly or loosely packed RGBA frame, `repeatCount` times.
    public func encode(rgba: UnsafeRawPointer, stride: Int, repeatCount: Int = 1) throws(MediaError) {
        let started = ThreadClock.cpuSeconds()
        let source = try converter.convert(rgba: rgba, stride: Int32(stride))
        convertCPU += ThreadClock.cpuSeconds() - started
        try eachRendition { encoder throws(MediaError) in
            try encoder.encode(source: source, repeatCount: repeatCount)
        }
    }

    /// Runs `work` on every rendition's encoder at once, each on its own
    /// worker thread, then hands over the files they finished.
    private func eachRendition(_ work: @escaping (RenditionEncoder) throws(MediaError) -> Void) throws(MediaError) {
        let started = ThreadClock.wallSeconds()
        for (worker, encoder) in zip(workers, encoders) { worker.start { () throws(MediaError) in try work(encoder) } }
        var failure: MediaError?
        for worker in workers {
            if let error = worker.wait() { failure = failure ?? error }
        }
        encodeWall += ThreadClock.wallSeconds() - started
        if let failure { throw failure }
        deliver()
    }

    private func deliver() {
        guard finished.contains(where: { !$0.files.isEmpty }) else { return }
        let started = ThreadClock.wallSeconds()
        for box in finished {
            for file in box.files { output(file) }
            box.files.removeAll(keepingCapacity: true)
        }
        deliverWall += ThreadClock.wallSeconds() - started
    }

    /// Where the time went so far. Read it on the calling thread, between calls.
    public var timings: Timings {
        Timings(convertCPU: convertCPU, scaleCPU: encoders.map(\.scaleCPU), encodeCPU: encoders.map(\.encodeCPU),
                encodeWall: encodeWall, deliver: deliverWall)
    }

    deinit {
        workers.forEach { $0.stop() }
    }

    /// Frames encoded so far (per rendition).
    public var framesEncoded: Int {
        Int(encoders.first?.framesEncoded ?? 0)
    }

    /// Flushes every rendition and emits the final segments.
    public func finish() throws(MediaError) -> [RenditionSummary] {
        try eachRendition { encoder throws(MediaError) in try encoder.finish() }
        workers.forEach { $0.stop() }
        return encoders.map { RenditionSummary(width: Int($0.width), height: Int($0.height), codecs: $0.codecs) }
    }
}
