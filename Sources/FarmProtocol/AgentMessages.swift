import Foundation

/// An agent introduces itself; sent on start and whenever the coordinator asks.
public struct Register: Codable, Sendable, Equatable {
    public var agentID: String
    public var hostname: String
    public var slots: Int
    public var cores: Int
    public var memoryBytes: Int64
    public var manimVersion: String
    public var hasLaTeX: Bool
    /// Attempts the agent is still running, so a restarted coordinator can resynchronise.
    public var running: [AttemptRef]
    /// The cloud instance the agent runs on, when an auto-scaling group manages it.
    public var instanceID: String?
    /// The agent builds parts of uploads in the object store (`JoinPart`); absent from older agents.
    public var joinsParts: Bool?
    /// The fingerprint of the agent's render environment (see `RenderEnvironment`); absent from older agents.
    public var environment: String?
    /// The agent writes `Assign.assets` beside the script; older agents would ignore them.
    public var takesAssets: Bool?
    /// The agent makes sound tracks (`MixAudio`); older agents are never asked.
    public var mixesAudio: Bool?
    /// The agent lists its Manim's API (`DescribeManim`); older agents are never asked.
    public var describesManim: Bool?

    public init(agentID: String, hostname: String, slots: Int, cores: Int, memoryBytes: Int64,
                manimVersion: String, hasLaTeX: Bool, running: [AttemptRef] = [], instanceID: String? = nil,
                joinsParts: Bool? = nil, environment: String? = nil, takesAssets: Bool? = nil, mixesAudio: Bool? = nil,
                describesManim: Bool? = nil) {
        self.mixesAudio = mixesAudio
        self.describesManim = describesManim
        self.instanceID = instanceID
        self.takesAssets = takesAssets
        self.joinsParts = joinsParts
        self.environment = environment
        self.agentID = agentID
        self.hostname = hostname
        self.slots = slots
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.manimVersion = manimVersion
        self.hasLaTeX = hasLaTeX
        self.running = running
    }
}

/// Names one attempt at one task: the fencing token every report carries.
public struct AttemptRef: Codable, Sendable, Hashable {
    public var taskID: String
    public var attempt: Int

    public init(taskID: String, attempt: Int) {
        self.taskID = taskID
        self.attempt = attempt
    }
}

/// Liveness, both ways. From an agent it carries what it runs and its free slots (its credit).
public struct Heartbeat: Codable, Sendable, Equatable {
    public var running: [AttemptRef]
    public var freeSlots: Int
    /// True while the agent drains: it takes no new work.
    public var draining: Bool

    public init(running: [AttemptRef] = [], freeSlots: Int = 0, draining: Bool = false) {
        self.running = running
        self.freeSlots = freeSlots
        self.draining = draining
    }
}

/// Frames rendered so far by an attempt.
public struct RenderProgress: Codable, Sendable, Equatable {
    public var ref: AttemptRef
    public var framesDone: Int

    public init(ref: AttemptRef, framesDone: Int) {
        self.ref = ref
        self.framesDone = framesDone
    }
}

/// Identifies one file an attempt produces: a rendition's init segment or one media segment.
public struct SegmentID: Codable, Sendable, Hashable {
    /// Index into the task's `EncodingPlan.renditions`.
    public var rendition: Int
    /// Media segment index from 0, or `nil` for the init segment.
    public var segment: Int?

    public init(rendition: Int, segment: Int?) {
        self.rendition = rendition
        self.segment = segment
    }
}

/// A piece of one segment file. Chunks of a file arrive in order over the agent's connection.
public struct SegmentChunk: Codable, Sendable, Equatable {
    public var ref: AttemptRef
    public var file: SegmentID
    /// Byte offset of this chunk in the file.
    public var offset: Int
    /// Size of the whole file.
    public var totalSize: Int
    /// CRC-32 of this chunk's bytes.
    public var crc32: UInt32

    public init(ref: AttemptRef, file: SegmentID, offset: Int, totalSize: Int, crc32: UInt32) {
        self.ref = ref
        self.file = file
        self.offset = offset
        self.totalSize = totalSize
        self.crc32 = crc32
    }
}

/// What a media segment holds.
public struct SegmentInfo: Codable, Sendable, Equatable {
    public var index: Int
    public var frames: Int
    public var size: Int
    public var crc32: UInt32

    public init(index: Int, frames: Int, size: Int, crc32: UInt32) {
        self.index = index
        self.frames = frames
        self.size = size
        self.crc32 = crc32
    }
}

/// The files one rendition of a finished attempt produced.
public struct RenditionOutput: Codable, Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// RFC 6381 codec string read from the encoder, for example `avc1.64001f`.
    public var codecs: String
    public var initSize: Int
    public var initCRC32: UInt32
    public var segments: [SegmentInfo]

    public init(width: Int, height: Int, codecs: String, initSize: Int, initCRC32: UInt32, segments: [SegmentInfo]) {
        self.width = width
        self.height = height
        self.codecs = codecs
        self.initSize = initSize
        self.initCRC32 = initCRC32
        self.segments = segments
    }
}

/// A finished attempt. Every chunk it names was sent before it.
public struct TaskResult: Codable, Sendable, Equatable {
    public var ref: AttemptRef
    public var frames: Int
    public var sourceWidth: Int
    public var sourceHeight: Int
    public var frameRate: Int
    /// Media timescale (ticks per second) of every rendition's track.
    public var timescale: Int
    public var renditions: [RenditionOutput]
    public var renderSeconds: Double
    /// The first frame the fragments' decode times were written for (`Assign.output`); `nil`: from 0.
    public var placedAt: Int?
    /// Files the agent uploaded to the object store itself; the others came as chunks.
    public var stored: [StoredFile]?
    /// A scene without animations: its one frame (and no frames, no renditions).
    public var still: StillImage?
    /// Where the attempt's time went on the agent.
    public var stages: RenderStages?

    public init(ref: AttemptRef, frames: Int, sourceWidth: Int, sourceHeight: Int, frameRate: Int,
                timescale: Int, renditions: [RenditionOutput], renderSeconds: Double) {
        self.ref = ref
        self.frames = frames
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.frameRate = frameRate
        self.timescale = timescale
        self.renditions = renditions
        self.renderSeconds = renderSeconds
    }
}

/// Why an attempt failed; decides whether the task is retried.
public enum FailureClass: String, Codable, Sendable {
    /// The user's script raised or is invalid: retrying cannot help.
    case scriptError = "script-error"
    /// The render exceeded its wall-clock or no-progress limit.
    case timeout
    /// The render exceeded its memory limit.
    case outOfMemory = "out-of-memory"
    /// Something on the agent broke (crash, encoder error, lost files): retry elsewhere.
    case agentError = "agent-error"
    /// The attempt was cancelled or handed back while draining.
    case cancelled
}

/// What ended an attempt, as its agent (or the coordinator) observed it. Decided from
/// typed signals only (the shim's exit status, the agent's own limits and state, the
/// coordinator's checks), never from text the script printed; the retry class follows from it.
public enum FailureReason: String, Codable, Sendable, CaseIterable {
    /// The script raised an exception (in its module or in `construct`).
    case scriptRaised = "script-raised"
    /// The script ran out of memory (Python's MemoryError under the task's limit).
    case outOfMemory = "out-of-memory"
    /// The render ran past its wall-clock limit.
    case wallClockLimit = "wall-clock-limit"
    /// The render produced no frame for the no-progress limit.
    case noProgress = "no-progress"
    /// Manim was killed by a signal the agent did not send.
    case killed
    /// Manim ended without finishing its frame stream and without a typed outcome.
    case crashed
    /// A tool the scene needs (LaTeX, dvisvgm) is not installed on the agent.
    case toolMissing = "tool-missing"
    /// The agent could not confine the task (sandbox, control groups).
    case confinementFailed = "confinement-failed"
    /// Manim could not be started.
    case startFailed = "start-failed"
    /// The frames could not be encoded, or the stream was malformed.
    case encoderFailed = "encoder-failed"
    /// The render's report was invalid, or the coordinator refused its uploads.
    case invalidReport = "invalid-report"
    /// Every slot of the agent was taken: handed back at once, no retry spent.
    case noFreeSlot = "no-free-slot"
    /// The agent is draining or shutting down: handed back, no retry spent.
    case handedBack = "handed-back"
    /// The coordinator cancelled the attempt.
    case cancelled
    /// The attempt's agent vanished while running it (coordinator-side).
    case lostAgent = "lost-agent"

    /// Whether the task is retried, and whose fault it is.
    public var failureClass: FailureClass {
        switch self {
        case .scriptRaised: .scriptError
        case .outOfMemory: .outOfMemory
        case .wallClockLimit, .noProgress: .timeout
        case .killed, .crashed, .toolMissing, .confinementFailed, .startFailed, .encoderFailed, .invalidReport, .lostAgent:
            .agentError
        case .noFreeSlot, .handedBack, .cancelled: .cancelled
        }
    }
}

/// An attempt that ended without a result.
public struct TaskFailure: Codable, Sendable, Equatable {
    public var ref: AttemptRef
    public var reason: FailureReason
    public var message: String
    /// The last lines of Manim's output.
    public var logTail: String

    /// Whether the task is retried, and whose fault it is (follows from `reason`).
    public var failureClass: FailureClass { reason.failureClass }

    public init(ref: AttemptRef, reason: FailureReason, message: String, logTail: String) {
        self.ref = ref
        self.reason = reason
        self.message = message
        self.logTail = logTail
    }
}
