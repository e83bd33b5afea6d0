/// Bounds on every number and string a peer can send.
///
/// A decoded message is checked against these before anything acts on it, so
/// the code behind the decoder may do plain arithmetic on what it received:
/// no sum of frame counts, sizes or segment indices within these bounds can
/// overflow an `Int`, and no string is large enough to matter.
public enum MessageLimits {
    /// Frames in one task: a 24-hour scene at 120 fps is about 10 million.
    public static let maxFrames = 10_368_000
    /// One segment or init file (a 6 s 4K segment is a few MiB).
    public static let maxFileBytes = 256 << 20
    /// Renditions of one ladder.
    public static let maxRenditions = 16
    /// Segments of one rendition of one task.
    public static let maxSegments = 200_000
    /// Frame width or height, of the render or a rung.
    public static let maxDimension = 16_384
    public static let maxFrameRate = 1_000
    public static let maxTimescale = 10_000_000
    /// Scenes of one script and animations of one scene.
    public static let maxScenes = 10_000
    public static let maxAnimations = 100_000
    /// Seconds of one animation, or of one render or planning pass.
    public static let maxSeconds = 7 * 24 * 3_600.0
    /// Identifiers (agent, task, video ids, scene names) and short labels.
    public static let maxIdentifier = 256
    /// Free text (error messages, log tails).
    public static let maxText = 256 << 10
    public static let maxSlots = 1_024
    public static let maxAttempt = 1_000_000
}

/// A message that can check its own fields against `MessageLimits`.
public protocol ValidatedMessage {
    /// - Throws: `WireError.invalidBody` naming the first field out of bounds.
    func validate() throws(WireError)
}

/// Small checks shared by the messages' `validate()`.
enum Check {
    static func range<T: Comparable>(_ value: T, _ bounds: ClosedRange<T>, _ field: String) throws(WireError) {
        guard bounds.contains(value) else { throw .invalidBody("\(field) \(value) is outside \(bounds)") }
    }

    static func seconds(_ value: Double, _ field: String) throws(WireError) {
        guard value.isFinite, value >= 0, value <= MessageLimits.maxSeconds else {
            throw .invalidBody("\(field) \(value) is not a duration")
        }
    }

    static func identifier(_ value: String, _ field: String) throws(WireError) {
        // Identifiers name folders on agents: letters, digits and . _ : - only, never a leading dot.
        guard !value.isEmpty, value.utf8.count <= MessageLimits.maxIdentifier, value.utf8.first != UInt8(ascii: "."),
              value.utf8.allSatisfy({ byte in
                  (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                      || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                      || byte == UInt8(ascii: ":")
              }) else {
            throw .invalidBody("\(field) is not an identifier (1–\(MessageLimits.maxIdentifier) of A-Z a-z 0-9 . _ : -)")
        }
    }

    static func text(_ value: String, _ field: String, limit: Int = MessageLimits.maxText) throws(WireError) {
        guard value.utf8.count <= limit else { throw .invalidBody("\(field) is longer than \(limit) bytes") }
    }

    static func count<C: Collection>(_ value: C, _ limit: Int, _ field: String) throws(WireError) {
        guard value.count <= limit else { throw .invalidBody("\(field) has \(value.count) entries, more than \(limit)") }
    }
}

extension AttemptRef: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.identifier(taskID, "taskID")
        try Check.range(attempt, 0...MessageLimits.maxAttempt, "attempt")
    }
}

extension Register: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.identifier(agentID, "agentID")
        try Check.text(hostname, "hostname", limit: MessageLimits.maxIdentifier)
        try Check.range(slots, 1...MessageLimits.maxSlots, "slots")
        try Check.range(cores, 0...65_536, "cores")
        try Check.range(memoryBytes, 0...(Int64(1) << 50), "memoryBytes")
        try Check.text(manimVersion, "manimVersion", limit: 64)
        try Check.count(running, MessageLimits.maxSlots, "running")
        for ref in running { try ref.validate() }
        if let instanceID { try Check.identifier(instanceID, "instanceID") }
        if let environment { try Check.identifier(environment, "environment") }
    }
}

extension Heartbeat: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.count(running, MessageLimits.maxSlots, "running")
        for ref in running { try ref.validate() }
        try Check.range(freeSlots, 0...MessageLimits.maxSlots, "freeSlots")
    }
}

extension RenderProgress: ValidatedMessage {
    public func validate() throws(WireError) {
        try ref.validate()
        try Check.range(framesDone, 0...MessageLimits.maxFrames, "framesDone")
    }
}

extension SegmentID: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.range(rendition, 0...(MessageLimits.maxRenditions - 1), "rendition")
        if let segment { try Check.range(segment, 0...(MessageLimits.maxSegments - 1), "segment") }
    }
}

extension SegmentChunk: ValidatedMessage {
    public func validate() throws(WireError) {
        try ref.validate()
        try file.validate()
        try Check.range(totalSize, 0...MessageLimits.maxFileBytes, "totalSize")
        try Check.range(offset, 0...totalSize, "offset")
    }

    /// Whether `count` bytes at this chunk's offset stay inside the file it announces.
    public func fits(_ count: Int) -> Bool {
        count <= totalSize - offset  // both bounded by validate(): no overflow
    }
}

extension RenditionOutput: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.range(width, 2...MessageLimits.maxDimension, "rendition width")
        try Check.range(height, 2...MessageLimits.maxDimension, "rendition height")
        try Check.text(codecs, "codecs", limit: 64)
        try Check.range(initSize, 1...MessageLimits.maxFileBytes, "initSize")
        try Check.count(segments, MessageLimits.maxSegments, "segments")
        for (position, segment) in segments.enumerated() {
            guard segment.index == position else {
                throw .invalidBody("segment \(position) announces index \(segment.index)")
            }
            try Check.range(segment.frames, 1...MessageLimits.maxFrames, "segment frames")
            try Check.range(segment.size, 1...MessageLimits.maxFileBytes, "segment size")
        }
    }

    /// Frames of all segments; `nil` if the sum leaves the bounds.
    public var frames: Int? {
        var total = 0
        for segment in segments {
            let (sum, overflow) = total.addingReportingOverflow(segment.frames)
            guard !overflow, sum <= MessageLimits.maxFrames else { return nil }
            total = sum
        }
        return total
    }
}

extension TaskResult: ValidatedMessage {
    public func validate() throws(WireError) {
        try ref.validate()
        try Check.range(frames, 0...MessageLimits.maxFrames, "frames")
        try Check.range(sourceWidth, 0...MessageLimits.maxDimension, "sourceWidth")
        try Check.range(sourceHeight, 0...MessageLimits.maxDimension, "sourceHeight")
        try Check.range(frameRate, 0...MessageLimits.maxFrameRate, "frameRate")
        try Check.range(timescale, 1...MessageLimits.maxTimescale, "timescale")
        try Check.seconds(renderSeconds, "renderSeconds")
        try Check.count(renditions, MessageLimits.maxRenditions, "renditions")
        if frames > 0 {
            guard sourceWidth > 0, sourceHeight > 0, frameRate > 0, !renditions.isEmpty else {
                throw .invalidBody("a result with frames lacks a source size, a frame rate or renditions")
            }
            guard timescale % frameRate == 0 else {
                throw .invalidBody("timescale \(timescale) is not a multiple of the frame rate \(frameRate)")
            }
        }
        if let placedAt { try Check.range(placedAt, 0...MessageLimits.maxFrames, "placedAt") }
        try stages?.validate()
        if let still {
            // With frames, the still is also on screen in the video (`RenderSettings.stillSeconds`).
            try still.validate()
        }
        if let stored {
            try Check.count(stored, MessageLimits.maxRenditions * (MessageLimits.maxSegments + 1), "stored")
            for file in stored { try file.validate() }
        }
        for rendition in renditions {
            try rendition.validate()
            guard rendition.frames == frames else {
                throw .invalidBody("a \(rendition.height)p rendition holds \(rendition.frames.map(String.init) ?? "too many") "
                    + "frames, the result \(frames)")
            }
        }
    }
}

extension PlannedAnimation: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.seconds(seconds, "animation seconds")
        try Check.range(frames, 0...MessageLimits.maxFrames, "animation frames")
    }
}

extension ScenePlan: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.text(scene, "scene", limit: MessageLimits.maxIdentifier)
        try Check.count(animations, MessageLimits.maxAnimations, "animations")
        var total = 0
        for animation in animations {
            try animation.validate()
            total += animation.frames  // at most maxAnimations × maxFrames: no overflow
        }
        try Check.range(total, 0...MessageLimits.maxFrames, "frames of scene \(scene)")
        if let soundEvents {
            try Check.count(soundEvents, PlannedSound.maxPerScene, "sounds of scene \(scene)")
            guard sounds || soundEvents.isEmpty else { throw .invalidBody("scene \(scene) lists sounds but says it adds none") }
            for sound in soundEvents { try sound.validate() }
        }
        if let generated {
            try Check.count(generated, AssetFile.maxCount, "generated files of scene \(scene)")
            var bytes = 0
            for file in generated {
                guard GeneratedFile.isAllowed(file.name) else {
                    throw .invalidBody("a generated file named \(file.name.prefix(64).debugDescription), not a safe path under "
                        + "\(GeneratedFile.folder) or \(GeneratedFile.texFolder)")
                }
                bytes += file.data.count
            }
            try Check.range(bytes, 0...AssetFile.maxTotalBytes, "generated files' size")
        }
    }
}

extension PlannedSound: ValidatedMessage {
    public func validate() throws(WireError) {
        guard !file.isEmpty else { throw .invalidBody("a sound without a file") }
        try Check.text(file, "sound file", limit: 1_024)
        try Check.seconds(seconds, "sound start")
        if let gain {
            guard gain.isFinite, (-200...200).contains(gain) else { throw .invalidBody("a sound's gain \(gain) is not a gain in dB") }
        }
    }
}

extension PlanResult: ValidatedMessage {
    public func validate() throws(WireError) {
        try ref.validate()
        try Check.text(manimVersion, "manimVersion", limit: 64)
        try Check.seconds(seconds, "seconds")
        try Check.count(scenes, MessageLimits.maxScenes, "scenes")
        for scene in scenes { try scene.validate() }
        let generated = scenes.reduce(0) { $0 + ($1.generated ?? []).reduce(0) { $0 + $1.data.count } }
        try Check.range(generated, 0...AssetFile.maxTotalBytes, "the plan's generated files' size")
    }
}

extension TaskFailure: ValidatedMessage {
    public func validate() throws(WireError) {
        try ref.validate()
        try Check.text(message, "message")
        try Check.text(logTail, "logTail")
    }
}

extension Assign: ValidatedMessage {
    public func validate() throws(WireError) {
        try ref.validate()
        try Check.identifier(videoID, "videoID")
        try Check.text(scriptName, "scriptName", limit: MessageLimits.maxIdentifier)
        try Check.text(scene, "scene", limit: MessageLimits.maxIdentifier)
        try Check.count(encoding.renditions, MessageLimits.maxRenditions, "renditions")
        if let still = settings.stillSeconds {
            guard still.isFinite, (0...RenderSettings.maxStillSeconds).contains(still) else {
                throw .invalidBody("a still of \(still) s is not 0–\(RenderSettings.maxStillSeconds) s")
            }
        }
        if let animations {
            guard animations.first >= 0, animations.last >= animations.first,
                  animations.last < MessageLimits.maxAnimations else {
                throw .invalidBody("animation range \(animations.first),\(animations.last) is not a range")
            }
        }
        if let scenes { try Check.count(scenes, MessageLimits.maxScenes, "scenes") }
        try output?.validate()
        if let assets {
            try Check.count(assets, AssetFile.maxCount, "assets")
            var total = 0
            for asset in assets {
                try asset.validate()
                total += asset.size  // each at most maxTotalBytes, at most maxCount of them: no overflow
            }
            try Check.range(total, 0...AssetFile.maxTotalBytes, "assets' total size")
            guard Set(assets.map(\.name)).count == assets.count else { throw .invalidBody("two assets with one name") }
        }
    }
}

extension FarmMessage: ValidatedMessage {
    public func validate() throws(WireError) {
        switch self {
        case .register(let m): try m.validate()
        case .heartbeat(let m): try m.validate()
        case .progress(let m): try m.validate()
        case .chunk(let m, let bytes):
            try m.validate()
            guard m.fits(bytes.count) else {
                throw .invalidBody("a chunk of \(bytes.count) bytes at \(m.offset) overruns its \(m.totalSize)-byte file")
            }
        case .result(let m): try m.validate()
        case .failure(let m): try m.validate()
        case .planned(let m): try m.validate()
        case .joined(let m): try m.validate()
        case .join(let m): try m.validate()
        case .mixed(let m): try m.validate()
        case .mix(let m): try m.validate()
        case .describeManim(let m): try m.validate()
        case .manimDescribed(let m): try m.validate()
        case .assign(let m): try m.validate()
        case .cancel(let m): try m.ref.validate()
        case .resultAck(let m): try m.ref.validate()
        case .registered, .reregister, .refused: break
        }
    }
}
