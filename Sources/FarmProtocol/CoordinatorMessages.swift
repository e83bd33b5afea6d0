/// The coordinator accepts an agent's registration.
public struct Registered: Codable, Sendable, Equatable {
    public var coordinatorID: String
    public var heartbeatMilliseconds: Int
    public var leaseMilliseconds: Int

    public init(coordinatorID: String, heartbeatMilliseconds: Int, leaseMilliseconds: Int) {
        self.coordinatorID = coordinatorID
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.leaseMilliseconds = leaseMilliseconds
    }
}

/// A peer refuses to talk, and says why. Its body keeps this shape in every
/// protocol version, so peers of other versions can still read the reason.
public struct Refused: Codable, Sendable, Equatable {
    public var reason: String
    public var supportedVersion: UInt8

    public init(reason: String, supportedVersion: UInt8 = FarmWire.version) {
        self.reason = reason
        self.supportedVersion = supportedVersion
    }
}

/// Work for an agent: render one scene (or a range of its animations) and
/// encode it into every rendition, or plan a video's scenes.
public struct Assign: Codable, Sendable, Equatable {
    public var ref: AttemptRef
    public var videoID: String
    /// The script's file name, for Manim's messages.
    public var scriptName: String
    public var script: String
    /// The scene to render; for a plan, the first of `scenes`.
    public var scene: String
    public var settings: RenderSettings
    public var encoding: EncodingPlan
    public var limits: TaskLimits
    /// Absent in messages from before planning existed: a render.
    public var kind: TaskKind?
    /// The animations to render; `nil` renders the whole scene.
    public var animations: AnimationRange?
    /// For a plan: every scene to plan, in order.
    public var scenes: [String]?
    /// With an object store: where the fragments sit on the timeline and where to upload them.
    public var output: OutputPlacement?
    /// Files the script reads, to write beside it (agents that say `Register.takesAssets` only).
    public var assets: [AssetFile]?
    /// The W3C trace context of the coordinator's span for this attempt, when traces are on: the agent's
    /// spans are its children. An agent parses it strictly and ignores a malformed one.
    public var traceParent: String?

    public init(ref: AttemptRef, videoID: String, scriptName: String, script: String, scene: String,
                settings: RenderSettings, encoding: EncodingPlan, limits: TaskLimits,
                kind: TaskKind = .render, animations: AnimationRange? = nil, scenes: [String]? = nil) {
        self.ref = ref
        self.videoID = videoID
        self.scriptName = scriptName
        self.script = script
        self.scene = scene
        self.settings = settings
        self.encoding = encoding
        self.limits = limits
        self.kind = kind
        self.animations = animations
        self.scenes = scenes
    }

    /// What the agent is asked to do.
    public var taskKind: TaskKind { kind ?? .render }
}

/// Stop an attempt now and free its slot.
public struct Cancel: Codable, Sendable, Equatable {
    public var ref: AttemptRef

    public init(ref: AttemptRef) {
        self.ref = ref
    }
}

/// The coordinator's verdict on a result: accepted output is committed; a
/// refused result came from a superseded attempt or was incomplete.
public struct ResultAck: Codable, Sendable, Equatable {
    public var ref: AttemptRef
    public var accepted: Bool
    public var reason: String?

    public init(ref: AttemptRef, accepted: Bool, reason: String? = nil) {
        self.ref = ref
        self.accepted = accepted
        self.reason = reason
    }
}
