import FarmModel
/// Why the store refused or failed an operation.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// The database could not be reached or the statement failed.
    case unavailable(String)

    public var description: String {
        switch self {
        case .unavailable(let why): "store unavailable: \(why)"
        }
    }
}

/// The coordinator's durable state. Every state change goes through here
/// before the coordinator acts on it, so a restarted coordinator resumes.
///
/// Implementations run their blocking work off Swift's cooperative pool.
public protocol FarmStore: Sendable {
    /// Applies pending schema migrations; safe to call more than once.
    func migrate() async throws

    /// Stores a new video with its tasks in one transaction. If a video with the
    /// same idempotency key exists, stores nothing and returns that one.
    func insert(_ video: VideoRecord, tasks: [TaskRecord]) async throws -> VideoRecord

    func video(id: String) async throws -> VideoRecord?
    /// Most recent first.
    func videos(limit: Int) async throws -> [VideoRecord]
    /// A page of videos, newest first, read without their scripts: only `teamID`'s when given,
    /// and only those after (older than) the video `after` when given.
    func videoSummaries(teamID: String?, after: String?, limit: Int) async throws -> [VideoSummary]
    /// A video's tasks in playback order.
    func tasks(videoID: String) async throws -> [TaskRecord]
    /// Videos not yet final, with their tasks: what a restarted coordinator resumes.
    func unfinished() async throws -> [(VideoRecord, [TaskRecord])]

    func update(_ video: VideoRecord) async throws
    func update(_ task: TaskRecord) async throws
    /// Saves a task change and its attempt's history together.
    func update(_ task: TaskRecord, attempt: AttemptRecord) async throws
    func attempts(taskID: String) async throws -> [AttemptRecord]
    /// Applies `changes` in order, in one transaction.
    func apply(_ changes: [StoreChange]) async throws
    /// Ends a plan task and inserts the render tasks it planned, in one transaction.
    func commitPlan(_ plan: TaskRecord, attempt: AttemptRecord, tasks: [TaskRecord]) async throws
    /// The cached render with `contentHash`, marking it used; `nil` if there is none.
    func cachedRender(contentHash: String) async throws -> CachedRender?
    /// Stores (or replaces) a cached render.
    func saveCachedRender(_ render: CachedRender) async throws
    /// The cached plan of a video with `key` (see the coordinator's `PlanCacheKey`); `nil` if there is none.
    func cachedPlan(key: String) async throws -> CachedPlan?
    /// Stores (or replaces) a cached plan.
    func saveCachedPlan(_ plan: CachedPlan) async throws
    /// Every cached render, least recently used first.
    func cachedRendersByLastUse() async throws -> [CachedRender]
    /// Forgets a cached render; deleting its files is the caller's job.
    func removeCachedRender(contentHash: String) async throws
    func save(_ agent: AgentRecord) async throws
    /// Every agent ever seen, by id.
    func agents() async throws -> [AgentRecord]
}

/// One durable state change, a whole record: applying it again is harmless.
public enum StoreChange: Sendable {
    case video(VideoRecord)
    case task(TaskRecord)
    case attempt(TaskRecord, AttemptRecord)
    case agent(AgentRecord)
    /// A finished plan task and the render tasks it created (a task written again replaces the earlier one).
    case planned(TaskRecord, AttemptRecord, [TaskRecord])
    /// A render kept in the cache (replacing one with the same content hash).
    case cachedRender(CachedRender)
    /// A plan kept in the cache (replacing one with the same key).
    case cachedPlan(CachedPlan)
    /// A render evicted from the cache.
    case uncachedRender(contentHash: String)
}
