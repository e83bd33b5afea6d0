import FarmProtocol
import Foundation

/// Where a video is in its life.
public enum VideoState: String, Codable, Sendable, CaseIterable {
    case queued, rendering, assembling, done, failed, cancelled

    /// True once nothing more will happen to the video.
    public var isFinal: Bool { self == .done || self == .failed || self == .cancelled }
}

/// Where one render task (one scene) is in its life.
public enum TaskState: String, Codable, Sendable, CaseIterable {
    case pending, running, done, failed, cancelled

    public var isFinal: Bool { self == .done || self == .failed || self == .cancelled }
}

/// A submitted video: a script, the scenes to render, and how.
public struct VideoRecord: Codable, Sendable, Equatable {
    public var id: String
    public var state: VideoState
    public var scriptName: String
    public var script: String
    public var settings: RenderSettings
    public var encoding: EncodingPlan
    public var idempotencyKey: String?
    public var error: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// Frames and seconds of the finished video.
    public var frames: Int?
    public var seconds: Double?
    /// Scheduling and planning choices made at submission.
    public var options: VideoOptions = VideoOptions()
    /// The team and user that own it: from the submitter's API key. `nil` for videos
    /// stored before accounts existed, or submitted to a coordinator without authentication.
    public var teamID: String?
    public var userID: String?
    /// When the team's retention policy deleted its outputs and logs.
    public var expiredAt: Date?

    public init(id: String, state: VideoState, scriptName: String, script: String, settings: RenderSettings,
                encoding: EncodingPlan, idempotencyKey: String?, createdAt: Date) {
        self.id = id
        self.state = state
        self.scriptName = scriptName
        self.script = script
        self.settings = settings
        self.encoding = encoding
        self.idempotencyKey = idempotencyKey
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }
}

/// A scene chosen for a video at submission.
public struct SceneSpec: Codable, Sendable, Equatable {
    public var name: String
    public var requiresLaTeX: Bool
    /// Hash of the source the scene depends on; keys its renders in the cache.
    public var fingerprint: String?

    public init(name: String, requiresLaTeX: Bool, fingerprint: String? = nil) {
        self.name = name
        self.requiresLaTeX = requiresLaTeX
        self.fingerprint = fingerprint
    }
}

/// How a video is scheduled and planned.
public struct VideoOptions: Codable, Sendable, Equatable {
    /// Higher runs first; videos of equal priority share agents fairly between submitters.
    public var priority: Int
    /// Who submitted it, for fair share.
    public var submitter: String
    /// The scenes to render, in order; the plan task expands them into render tasks.
    public var scenes: [SceneSpec]
    /// Long scenes may be rendered in animation ranges on several agents.
    public var split: Bool
    /// Unchanged work may be taken from the render cache.
    public var useCache: Bool
    /// Files the script reads, submitted with it; absent for videos without any.
    public var assets: [AssetRef]?
    /// The W3C trace context of the request that submitted it, when traces are on: every span of the video
    /// (dispatches, the agents' renders, assembly) joins that trace, across restarts too.
    public var traceParent: String?
    /// A check of a generated script, not a video: it runs the planning pass only and ends `done` with the
    /// planned length (or `failed` with the pass's error). Nothing is rendered or published.
    public var validateOnly: Bool?

    /// What videos stored before options existed read as.
    public static let legacyJSON = #"{"priority":0,"submitter":"anonymous","scenes":[],"split":false,"useCache":false}"#

    public init(priority: Int = 0, submitter: String = "anonymous", scenes: [SceneSpec] = [], split: Bool = true,
                useCache: Bool = true) {
        self.priority = priority
        self.submitter = submitter
        self.scenes = scenes
        self.split = split
        self.useCache = useCache
    }
}

/// What one task renders beyond its scene name.
public struct TaskWork: Codable, Sendable, Equatable {
    public var kind: TaskKind
    /// The scene's animations this task renders; `nil` for the whole scene.
    public var animations: AnimationRange?
    /// The render identity (`AgentRecord.renderIdentity`) its plan was made in: only an agent with that
    /// identity may render it (ranges of a scene join seamlessly only when one environment drew them all).
    /// `nil`: any agent (unplanned tasks, older tasks).
    public var environment: String?
    /// The render identity its cache key was made for: only a render by an agent with that identity is
    /// remembered under the key. `nil` for older tasks.
    public var cacheIdentity: String?
    /// The sounds its scene adds, as planned (every range of the scene carries them all).
    public var sounds: [PlannedSound]?
    /// Frames the plan expects this task to produce.
    public var expectedFrames: Int?
    /// Estimated render time on one agent slot, in seconds.
    public var estimatedSeconds: Double?
    /// Position in the video's planned dispatch order (see `SplitPlanner`);
    /// without one, the longest estimate goes first.
    public var dispatchRank: Int?
    /// Content hash of everything that determines the output (see `RenderCacheKey`).
    public var cacheKey: String?
    /// Said to the user: why a scene was rendered whole, or that the output came from the cache.
    public var note: String?

    /// What tasks stored before planning existed read as.
    public static let legacyJSON = #"{"kind":"render"}"#

    public init(kind: TaskKind = .render, animations: AnimationRange? = nil, expectedFrames: Int? = nil,
                estimatedSeconds: Double? = nil, dispatchRank: Int? = nil, cacheKey: String? = nil, note: String? = nil) {
        self.kind = kind
        self.animations = animations
        self.expectedFrames = expectedFrames
        self.estimatedSeconds = estimatedSeconds
        self.dispatchRank = dispatchRank
        self.cacheKey = cacheKey
        self.note = note
    }
}

/// A finished render kept for reuse: its result and where its segments are.
public struct CachedRender: Codable, Sendable, Equatable {
    public var contentHash: String
    public var result: TaskResult
    /// Folder holding the render's init and media segments.
    public var artifactPath: String
    public var createdAt: Date
    public var lastUsedAt: Date

    public init(contentHash: String, result: TaskResult, artifactPath: String, createdAt: Date) {
        self.contentHash = contentHash
        self.result = result
        self.artifactPath = artifactPath
        self.createdAt = createdAt
        self.lastUsedAt = createdAt
    }

    /// Bytes of its files on disk: every rendition's init and media segments.
    public var bytes: Int {
        result.renditions.reduce(0) { total, rendition in
            total + rendition.initSize + rendition.segments.reduce(0) { $0 + $1.size }
        }
    }
}

/// A video's plan kept for reuse: what its scenes' animations are, so an
/// unchanged resubmission needs no planning pass.
public struct CachedPlan: Codable, Sendable, Equatable {
    public var planKey: String
    public var scenes: [ScenePlan]
    /// The Manim version that planned it (also part of the key).
    public var manimVersion: String
    public var createdAt: Date

    public init(planKey: String, scenes: [ScenePlan], manimVersion: String, createdAt: Date) {
        self.planKey = planKey
        self.scenes = scenes
        self.manimVersion = manimVersion
        self.createdAt = createdAt
    }
}

/// What went wrong with a task, as shown to the user.
public struct TaskError: Codable, Sendable, Equatable {
    public var failureClass: FailureClass
    /// What ended the attempt; absent in records written before reasons were typed.
    public var reason: FailureReason?
    public var message: String
    public var logTail: String

    public init(failureClass: FailureClass, reason: FailureReason? = nil, message: String, logTail: String) {
        self.failureClass = failureClass
        self.reason = reason
        self.message = message
        self.logTail = logTail
    }

    public init(_ failure: TaskFailure) {
        self.init(failureClass: failure.failureClass, reason: failure.reason, message: failure.message, logTail: failure.logTail)
    }
}

/// One scene of a video, rendered by one or more attempts.
public struct TaskRecord: Codable, Sendable, Equatable {
    public var id: String
    public var videoID: String
    /// Position of the scene in the video, from 0.
    public var ordinal: Int
    public var scene: String
    public var requiresLaTeX: Bool
    public var state: TaskState
    /// The current attempt number; reports from any other attempt are refused.
    public var attempt: Int
    /// Attempts that failed on the agent's side and count against the retry limit.
    public var failures: Int
    public var agentID: String?
    public var framesDone: Int
    public var error: TaskError?
    /// The accepted attempt's output description.
    public var result: TaskResult?
    public var updatedAt: Date
    /// What the task renders beyond its scene: kind, range, estimate, cache key.
    public var work: TaskWork = TaskWork()

    public init(id: String, videoID: String, ordinal: Int, scene: String, requiresLaTeX: Bool, createdAt: Date) {
        self.id = id
        self.videoID = videoID
        self.ordinal = ordinal
        self.scene = scene
        self.requiresLaTeX = requiresLaTeX
        self.state = .pending
        self.attempt = 0
        self.failures = 0
        self.framesDone = 0
        self.updatedAt = createdAt
    }
}

/// The history of one attempt at a task.
public struct AttemptRecord: Codable, Sendable, Equatable {
    public var taskID: String
    public var attempt: Int
    public var agentID: String
    public var startedAt: Date
    public var endedAt: Date?
    /// `done`, `cancelled` or a `FailureReason` raw value (`script-raised`, `lost-agent`, ...); `nil` while running.
    public var outcome: String?
    public var logTail: String?

    public init(taskID: String, attempt: Int, agentID: String, startedAt: Date) {
        self.taskID = taskID
        self.attempt = attempt
        self.agentID = agentID
        self.startedAt = startedAt
    }
}

/// The last thing known of an agent.
public struct AgentRecord: Codable, Sendable, Equatable {
    public var id: String
    public var hostname: String
    public var slots: Int
    public var cores: Int
    public var memoryBytes: Int64
    public var manimVersion: String
    public var hasLaTeX: Bool
    public var lastSeen: Date
    /// Not stored: what the agent said in its latest registration.
    public var instanceID: String?
    /// Not stored: the fingerprint of its render environment (every package Manim imports, Python, libav).
    public var environment: String?
    /// Not stored: it writes a task's assets beside the script.
    public var takesAssets = false

    /// What decides how the agent renders: its Manim version and, where it reports one, its environment's
    /// fingerprint. Part of every render-cache key; a planned video renders only on agents with its identity.
    public var renderIdentity: String {
        environment.map { "\(manimVersion) env:\($0)" } ?? manimVersion
    }

    enum CodingKeys: String, CodingKey {
        case id, hostname, slots, cores, memoryBytes, manimVersion, hasLaTeX, lastSeen
    }

    public init(_ register: Register, lastSeen: Date) {
        instanceID = register.instanceID
        environment = register.environment
        takesAssets = register.takesAssets ?? false
        id = register.agentID
        hostname = register.hostname
        slots = register.slots
        cores = register.cores
        memoryBytes = register.memoryBytes
        manimVersion = register.manimVersion
        hasLaTeX = register.hasLaTeX
        self.lastSeen = lastSeen
    }
}
