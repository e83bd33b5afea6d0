import FarmProtocol
import Foundation

/// `POST /v1/videos`: a script and how to render it.
public struct SubmitRequest: Codable, Sendable {
    /// The Python source of the script.
    public var script: String
    /// The script's file name, for messages (for example `lesson.py`).
    public var scriptName: String?
    /// Scenes to render, in the order the video shows them; all scenes in file order when absent.
    public var scenes: [String]?
    public var quality: Quality?
    public var seed: Int?
    /// Ladder heights, highest first; the default ladder when absent.
    public var ladder: [Int]?
    /// A client-chosen key: resubmitting with the same key returns the same video.
    public var idempotencyKey: String?
    /// Higher runs first (default 0).
    public var priority: Int?
    /// Who submits, for fair sharing of agents between submitters (default "anonymous").
    public var submitter: String?
    /// Plan the video and cut long scenes into animation ranges (default true).
    public var split: Bool?
    /// Reuse cached renders of unchanged scenes (default true).
    public var cache: Bool?
    /// Files the script reads (images, SVGs, sounds, data), placed beside it at their relative paths.
    public var assets: [SubmittedAsset]?
    /// How long a scene without animations stays on screen in the video (default 1 s; 0: its picture only).
    public var stillSeconds: Double?

    public init(script: String, scriptName: String? = nil, scenes: [String]? = nil, quality: Quality? = nil,
                seed: Int? = nil, ladder: [Int]? = nil, idempotencyKey: String? = nil, priority: Int? = nil,
                submitter: String? = nil, split: Bool? = nil, cache: Bool? = nil) {
        self.priority = priority
        self.submitter = submitter
        self.split = split
        self.cache = cache
        self.script = script
        self.scriptName = scriptName
        self.scenes = scenes
        self.quality = quality
        self.seed = seed
        self.ladder = ladder
        self.idempotencyKey = idempotencyKey
    }
}

/// One scene of a video, as `GET /v1/videos/{id}` reports it.
public struct SceneStatus: Codable, Sendable, Equatable {
    public var name: String
    public var state: TaskState
    public var attempt: Int
    /// Agent-side failures that counted against the retry limit.
    public var retriesSpent: Int
    public var agent: String?
    public var framesDone: Int
    /// Frames of the finished scene.
    public var frames: Int?
    /// Frames the plan expects of the task, before it finishes; absent when the scene was not planned.
    public var expectedFrames: Int?
    public var requiresLaTeX: Bool
    public var error: TaskError?
    /// Why the scene is not running yet, when it waits for something specific.
    public var waitingFor: String?
    /// The animations this task renders; absent for a whole scene.
    public var animations: AnimationRange?
    /// Estimated render time on one agent slot, in seconds.
    public var estimatedSeconds: Double?
    /// Why the scene was rendered whole, or that it came from the render cache.
    public var note: String?
    /// A scene without animations: the URL of its picture (`stills/<Scene>.png`), once rendered.
    public var still: String?
    /// The sounds the scene adds (`add_sound`), where they start on its timeline, as planned.
    public var sounds: [PlannedSound]?

    public init(name: String, state: TaskState, attempt: Int, retriesSpent: Int, agent: String? = nil, framesDone: Int, frames: Int? = nil, requiresLaTeX: Bool, error: TaskError? = nil, waitingFor: String? = nil, animations: AnimationRange? = nil, estimatedSeconds: Double? = nil, note: String? = nil) {
        self.name = name
        self.state = state
        self.attempt = attempt
        self.retriesSpent = retriesSpent
        self.agent = agent
        self.framesDone = framesDone
        self.frames = frames
        self.requiresLaTeX = requiresLaTeX
        self.error = error
        self.waitingFor = waitingFor
        self.animations = animations
        self.estimatedSeconds = estimatedSeconds
        self.note = note
    }
}

/// Where a finished video's outputs are.
public struct VideoOutputs: Codable, Sendable, Equatable {
    /// URL path of the master playlist on the coordinator's HTTP server.
    public var master: String
    /// URL path of the MP4.
    public var mp4: String
    /// The master playlist on the coordinator's disk.
    public var masterPath: String
    public var mp4Path: String

    public init(master: String, mp4: String, masterPath: String, mp4Path: String) {
        self.master = master
        self.mp4 = mp4
        self.masterPath = masterPath
        self.mp4Path = mp4Path
    }
}

/// Media bytes in object-store mode, by the path they took.
public struct ObjectStoreTraffic: Codable, Sendable, Equatable {
    /// Segments agents put in the store themselves.
    public var agentBytes: Int
    /// Segments that passed through the coordinator: sent as chunks after an upload
    /// failed, or moved on the timeline because their place was not known in advance.
    public var coordinatorBytes: Int
    /// The top rung read back to write each `video.mp4`.
    public var mp4Bytes: Int

    public init(agentBytes: Int, coordinatorBytes: Int, mp4Bytes: Int) {
        self.agentBytes = agentBytes
        self.coordinatorBytes = coordinatorBytes
        self.mp4Bytes = mp4Bytes
    }
}

/// `GET /v1/videos/{id}`.
public struct VideoStatus: Codable, Sendable, Equatable {
    public var id: String
    public var state: VideoState
    public var scriptName: String
    public var quality: Quality
    public var seed: Int
    public var renditions: [String]
    public var createdAt: Date
    public var updatedAt: Date
    public var error: String?
    public var priority: Int
    public var submitter: String
    /// The owning team; absent for videos from before accounts existed.
    public var teamID: String?
    /// The planning pass; absent when the video was submitted without splitting.
    public var plan: SceneStatus?
    /// Render tasks in playback order: whole scenes and animation ranges.
    public var scenes: [SceneStatus]
    public var frames: Int?
    public var seconds: Double?
    public var outputs: VideoOutputs?
    /// Seconds of the video a player can watch already: while it renders with an object store
    /// (the playlists grow), the whole video once done.
    public var playableSeconds: Double?
    /// Frames done of expected and the time left (`VideoProgress`).
    public var progress: VideoProgress?
    /// A check of a generated script: only the planning pass ran; `seconds` is the planned length.
    public var validateOnly: Bool?

    public init(id: String, state: VideoState, scriptName: String, quality: Quality, seed: Int, renditions: [String], createdAt: Date, updatedAt: Date, error: String? = nil, priority: Int, submitter: String, plan: SceneStatus? = nil, scenes: [SceneStatus], frames: Int? = nil, seconds: Double? = nil, outputs: VideoOutputs? = nil) {
        self.id = id
        self.state = state
        self.scriptName = scriptName
        self.quality = quality
        self.seed = seed
        self.renditions = renditions
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.error = error
        self.priority = priority
        self.submitter = submitter
        self.plan = plan
        self.scenes = scenes
        self.frames = frames
        self.seconds = seconds
        self.outputs = outputs
    }
}

/// `GET /v1/stats`: counters an operator (and the tests) watch.
public struct FarmStats: Codable, Sendable, Equatable {
    /// Messages dropped because they could not be decoded.
    public var malformedMessages: Int
    /// Reports refused because they came from a superseded attempt or an unknown agent.
    public var refusedReports: Int
    /// Tasks waiting for an agent.
    public var queueDepth: Int
    public var runningTasks: Int
    public var agents: Int
    public var activeVideos: Int
    /// Tasks handed to agents since start.
    public var assignments: Int
    /// Time spent in dispatch rounds that assigned something, persisting included;
    /// `assignments / dispatchSeconds` is the coordinator's dispatch rate.
    public var dispatchSeconds: Double
    /// The dispatch round that assigned the most tasks: how many, and how long it took from
    /// choosing the first to sending the last, persisting included.
    public var largestDispatchRound: Int
    public var largestDispatchRoundSeconds: Double
    /// With an object store: which way media bytes went since start.
    public var objectStore: ObjectStoreTraffic?

    public init(malformedMessages: Int, refusedReports: Int, queueDepth: Int, runningTasks: Int, agents: Int, activeVideos: Int, assignments: Int, dispatchSeconds: Double, largestDispatchRound: Int, largestDispatchRoundSeconds: Double) {
        self.malformedMessages = malformedMessages
        self.refusedReports = refusedReports
        self.queueDepth = queueDepth
        self.runningTasks = runningTasks
        self.agents = agents
        self.activeVideos = activeVideos
        self.assignments = assignments
        self.dispatchSeconds = dispatchSeconds
        self.largestDispatchRound = largestDispatchRound
        self.largestDispatchRoundSeconds = largestDispatchRoundSeconds
    }
}

/// `GET /v1/agents`.
public struct AgentStatus: Codable, Sendable, Equatable {
    public var id: String
    public var hostname: String
    public var slots: Int
    /// Renders assigned to the agent.
    public var running: Int
    /// Renders the agent reported running in its last heartbeat.
    public var reportedRunning: Int
    public var cores: Int
    public var manimVersion: String
    /// The fingerprint of its render environment (the packages Manim imports, Python, libav), if it reports one.
    public var environment: String?
    public var hasLaTeX: Bool
    public var draining: Bool
    public var lastSeenSecondsAgo: Double
    /// What it renders now: `Scene (video id)` per assigned task.
    public var tasks: [String]?

    public init(id: String, hostname: String, slots: Int, running: Int, reportedRunning: Int, cores: Int, manimVersion: String, hasLaTeX: Bool, draining: Bool, lastSeenSecondsAgo: Double) {
        self.id = id
        self.hostname = hostname
        self.slots = slots
        self.running = running
        self.reportedRunning = reportedRunning
        self.cores = cores
        self.manimVersion = manimVersion
        self.hasLaTeX = hasLaTeX
        self.draining = draining
        self.lastSeenSecondsAgo = lastSeenSecondsAgo
    }
}

/// `POST /v1/speech`: a text to speak, and how.
public struct SpeechRequest: Codable, Sendable, Equatable {
    public var text: String
    /// The engine's voice (espeak-ng: a language such as `en`, `en-us`, `de`); `en` when absent.
    public var voice: String?

    public init(text: String, voice: String? = nil) {
        self.text = text
        self.voice = voice
    }
}
