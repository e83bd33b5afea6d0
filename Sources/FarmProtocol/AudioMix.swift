import Foundation

/// Asks an agent for a video's sound track, made once after every scene is
/// rendered: each scene's sounds mixed into a track exactly as long as the
/// scene (a sound running past its scene's end is cut there, as the scene's
/// picture ends), the scenes' tracks end to end, encoded as one AAC-LC stream
/// (so no priming or padding sits between scenes) in fMP4 fragments that start
/// at `cuts`, the video's own segment boundaries.
///
/// Sound files are decoded on an agent, never on the coordinator: they come
/// from strangers, and a decoder that a crafted file can crash must crash a
/// process whose loss costs one job.
public struct MixAudio: Codable, Sendable, Equatable {
    /// Names this request in the answers (`MixedAudio.id`).
    public var id: String
    public var videoID: String
    /// Each sound file once: inline bytes (the data folder) or a presigned GET (an object store).
    public var files: [AssetFile]
    /// Every scene with frames, in playback order.
    public var scenes: [SceneSoundTrack]
    /// Where audio segments after the first start, in samples at `sampleRate` on the video's
    /// timeline: strictly increasing, each inside the track.
    public var cuts: [Int]

    public init(id: String, videoID: String, files: [AssetFile], scenes: [SceneSoundTrack], cuts: [Int]) {
        self.id = id
        self.videoID = videoID
        self.files = files
        self.scenes = scenes
        self.cuts = cuts
    }

    public static let sampleRate = 48_000
    /// The track's samples: the sum of its scenes'.
    public var samples: Int { scenes.reduce(0) { $0 + $1.samples } }
    /// The longest track the farm makes (a week, as `MessageLimits.maxSeconds`).
    public static let maxSamples = Int(MessageLimits.maxSeconds) * sampleRate
}

/// One scene's share of the track: how long it is and what plays in it.
public struct SceneSoundTrack: Codable, Sendable, Equatable {
    public var samples: Int
    public var sounds: [MixSound]

    public init(samples: Int, sounds: [MixSound]) {
        self.samples = samples
        self.sounds = sounds
    }
}

/// One `add_sound`: which file (an index into `MixAudio.files`), when on its scene's timeline, how loud.
public struct MixSound: Codable, Sendable, Equatable {
    public var file: Int
    public var seconds: Double
    public var gain: Double?

    public init(file: Int, seconds: Double, gain: Double? = nil) {
        self.file = file
        self.seconds = seconds
        self.gain = gain
    }
}

/// An agent's answer to a `MixAudio`, in as many messages as the encoded track
/// needs (each well under the wire's body limit): the init segment first, then
/// fragments in order with their sample counts, `last` on the final one. Or why not:
/// `inputError` when the sound files themselves are at fault (a corrupt file
/// fails the video), otherwise the agent is (another agent is asked).
public struct MixedAudio: Codable, Sendable, Equatable {
    public var id: String
    /// Counts this request's answers from 0, so none is lost or replayed unnoticed.
    public var sequence: Int
    public var initSegment: Data?
    public var segments: [Data]
    /// Samples (at 48 kHz) each of `segments` holds.
    public var samples: [Int]
    public var last: Bool
    public var error: String?
    public var inputError: Bool?

    public init(id: String, sequence: Int, initSegment: Data? = nil, segments: [Data] = [], samples: [Int] = [],
                last: Bool, error: String? = nil, inputError: Bool? = nil) {
        self.id = id
        self.sequence = sequence
        self.initSegment = initSegment
        self.segments = segments
        self.samples = samples
        self.last = last
        self.error = error
        self.inputError = inputError
    }

    /// Encoded bytes one answer carries at most (base64 in JSON stays under `FarmWire.maxBodySize`).
    public static let maxBytesPerMessage = 16 << 20
}

extension MixAudio: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.identifier(id, "id")
        try Check.identifier(videoID, "videoID")
        try Check.count(files, AssetFile.maxCount, "sound files")
        var bytes = 0
        for file in files {
            try file.validate()
            bytes += file.size
        }
        try Check.range(bytes, 0...AssetFile.maxTotalBytes, "sound files' total size")
        guard !scenes.isEmpty else { throw .invalidBody("a sound track of no scenes") }
        try Check.count(scenes, MessageLimits.maxScenes, "scenes")
        var total = 0
        for scene in scenes {
            try Check.range(scene.samples, 1...Self.maxSamples, "a scene's samples")
            total += scene.samples  // at most 10,000 × a week of samples: far from overflow
            try Check.count(scene.sounds, PlannedSound.maxPerScene, "a scene's sounds")
            for sound in scene.sounds {
                guard files.indices.contains(sound.file) else { throw .invalidBody("a sound of file \(sound.file) among \(files.count)") }
                try Check.seconds(sound.seconds, "a sound's start")
                if let gain = sound.gain {
                    guard gain.isFinite, (-200...200).contains(gain) else { throw .invalidBody("a sound's gain \(gain) is not a gain in dB") }
                }
            }
        }
        try Check.range(total, 1...Self.maxSamples, "the track's samples")
        try Check.count(cuts, MessageLimits.maxSegments, "cuts")
        var previous = 0
        for cut in cuts {
            guard cut > previous, cut < total else { throw .invalidBody("cut \(cut) is not after \(previous) and inside the track") }
            previous = cut
        }
    }
}

extension MixedAudio: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.identifier(id, "id")
        try Check.range(sequence, 0...MessageLimits.maxSegments, "sequence")
        if let error {
            try Check.text(error, "error", limit: 4_096)
            guard segments.isEmpty, initSegment == nil, last else { throw .invalidBody("a failed mix that carries audio") }
            return
        }
        guard segments.count == samples.count else { throw .invalidBody("\(segments.count) segments with \(samples.count) sample counts") }
        try Check.count(segments, MessageLimits.maxSegments, "segments")
        let bytes = segments.reduce(initSegment?.count ?? 0) { $0 + $1.count }
        try Check.range(bytes, 0...Self.maxBytesPerMessage, "the answer's bytes")
        for count in samples { try Check.range(count, 1...MixAudio.maxSamples, "a segment's samples") }
    }
}
