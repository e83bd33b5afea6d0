import Foundation

/// A video's encoded sound track as an agent made it (see `MixAudio`), checked:
/// the init segment (AAC, track 2, 48 kHz) and its fragments in order, each with
/// the samples it holds.
public struct SoundTrack: Sendable {
    public var initSegment: Data
    public var segments: [(data: Data, samples: Int)]

    public init(initSegment: Data, segments: [(data: Data, samples: Int)]) {
        self.initSegment = initSegment
        self.segments = segments
    }

    static let sampleRate = 48_000
    /// The most encoded bytes one track may hold (a 128 kb/s track reaches it after about nine hours).
    static let maxBytes = 512 << 20
}
