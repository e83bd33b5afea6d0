import CFFmpeg
import Foundation

/// Encodes one scene's frames into every rendition of a ladder.
///
/// Each source frame is scaled and encoded once per rendition; the renditions
/// share IDR frames and segment boundaries. Output files are handed to `output`
/// as soon as they are complete, on the calling thread. Blocking and CPU-bound:
/// call it from a dedicated thread, never from Swift's cooperative pool.
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

    /// libav and x264 print per-encoder statistics at the default level; keep only errors.
    private static let quietLibav: Void = av_log_set_level(AV_LOG_ERROR)

    private let encoders: [RenditionEncoder]
    private let sourceHeight: Int32
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
        for (index, rung) in configuration.renditions.enumerated() {
            let height = rung.height & ~1
            // Keep the source's aspect ratio; H.264 4:2:0 wants even dimensions.
            let width = Int((Double(configuration.sourceWidth) * Double(height) / Double(configuration.sourceHeight) / 2).rounded()) * 2
            encoders.append(try RenditionEncoder(
                sourceWidth: Int32(configuration.sourceWidth), sourceHeight: Int32(configuration.sourceHeight),
                width: Int32(width), height: Int32(height), frameRate: Int32(configuration.frameRate),
                crf: rung.crf, preset: configuration.preset,
                keyframeInterval: keyframeInterval, segmentFrames: segmentFrames,
                emit: { segment, frames, data in
                    output(EncodedFile(rendition: index, segment: segment, frames: frames, data: data))
                }))
        }
        self.encoders = encoders
        self.sourceHeight = Int32(configuration.sourceHeight)
        self.timescale = Int(encoders.first?.timescale ?? 90_000)
    }

    /// Encodes a top-left, tightly or loosely packed RGBA frame, `repeatCount` times.
    public func encode(rgba: UnsafeRawPointer, stride: Int, repeatCount: Int = 1) throws(MediaError) {
        for encoder in encoders {
            try encoder.encode(rgba: rgba, stride: Int32(stride), sourceHeight: sourceHeight, repeatCount: repeatCount)
        }
    }

    /// Frames encoded so far (per rendition).
    public var framesEncoded: Int {
        Int(encoders.first?.framesEncoded ?? 0)
    }

    /// Flushes every rendition and emits the final segments.
    public func finish() throws(MediaError) -> [RenditionSummary] {
        for encoder in encoders { try encoder.finish() }
        return encoders.map { RenditionSummary(width: Int($0.width), height: Int($0.height), codecs: $0.codecs) }
    }
}
