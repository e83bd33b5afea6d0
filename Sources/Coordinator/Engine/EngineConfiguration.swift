import FarmProtocol
import Foundation

/// How the coordinator schedules, retries and stores.
public struct EngineConfiguration: Sendable {
    /// Holds the database, staged attempts and published videos.
    public var dataDirectory: URL
    /// How often agents and the coordinator exchange heartbeats.
    public var heartbeat: Duration = .seconds(1)
    /// An agent silent this long is lost; its tasks go back to the queue.
    public var lease: Duration = .seconds(5)
    /// An agent whose connection closed while it was talking is lost after this long unless
    /// it speaks again: a crashed agent's work goes back to the queue within a second, and
    /// an agent that reconnects at once keeps its work.
    public var disconnectGrace: Duration = .milliseconds(600)
    /// Agent-side failures a task may have before its video fails.
    public var maxAttempts = 3
    /// Wait before retrying a task that failed on an agent; doubles with each failure.
    public var retryBackoff: Duration = .milliseconds(500)
    /// An agent that failed this many tasks of a video is given none of its tasks again.
    public var blocklistAfter = 3
    /// A video whose pending tasks no connected agent may take (every one blocklisted for it, or a
    /// scene needs LaTeX and none has it) fails after this long, saying why. With no agent connected
    /// at all it waits: agents may be starting (the autoscaler).
    public var unplaceableWait: Duration = .seconds(60)
    /// How long an agent may take to build a part of `video.mp4` (plus a second per MiB) before the coordinator does.
    public var joinTimeoutSeconds = 30
    /// Limits every render runs under.
    public var limits = TaskLimits()
    /// How long a submission may wait for the store before it is refused with 503.
    public var submitTimeout: Duration = .seconds(5)
    /// Largest script accepted.
    public var maxScriptBytes = 1 << 20
    /// The Python that parses scripts (Manim is not needed on the coordinator).
    public var python = "python3"
    /// How many agents the queue needs (the scaling signal).
    public var scaling = ScalingPolicy()
    /// A `postgres://` URL for the production store; the embedded SQLite store when `nil`.
    public var databaseURL: String?

    /// Plan each video first and cut long scenes into animation ranges.
    public var splitScenes = true
    /// Shortest estimated render time worth a range of its own, in seconds.
    public var minimumPieceSeconds = 3.0
    /// Reuse finished renders whose content hash matches.
    public var renderCache = true
    /// Most bytes the render cache keeps; the least recently used renders go first beyond it.
    public var renderCacheLimitBytes = 20 << 30

    /// Publish to an S3-compatible object store (agents upload segments there
    /// themselves) instead of the data folder.
    public var objectOutputs: ObjectOutputConfiguration?

    public init(dataDirectory: URL) {
        self.dataDirectory = dataDirectory
    }

    var publishedDirectory: URL { dataDirectory.appendingPathComponent("published") }
    var stagingDirectory: URL { dataDirectory.appendingPathComponent("staging") }
    var cacheDirectory: URL { dataDirectory.appendingPathComponent("cache") }
    public var databasePath: String { dataDirectory.appendingPathComponent("farm.sqlite").path }
}
