import FarmProtocol
import FarmModel
import FarmStorage
import Foundation
import Logging

/// The coordinator's brain: videos, tasks and agents, and every transition
/// between their states.
///
/// Discipline that keeps the actor's reentrancy harmless: each handler checks
/// and changes memory synchronously, before its first `await`; it awaits only
/// to persist what it decided or to do slow work, and re-checks after an await
/// before acting on what it saw before it.
public actor FarmEngine {
    let configuration: EngineConfiguration
    let store: any FarmStore
    let discovery: SceneDiscovery
    let staging: SegmentStaging
    let writer: StoreWriter
    let logger: Logger
    let coordinatorID = UUID().uuidString
    /// Hands a message to the agent behind a routing identity.
    private var send: @Sendable (FarmMessage, Data) -> Void = { _, _ in }

    /// Videos not yet final, and their tasks.
    var videos: [String: VideoRecord] = [:]
    var tasks: [String: TaskRecord] = [:]
    var taskIDsByVideo: [String: [String]] = [:]
    var agents: [String: AgentState] = [:]
    var agentIDsByPeer: [Data: String] = [:]
    /// Reports refused because they came from a superseded attempt or an unknown agent.
    public internal(set) var refusedReports = 0
    /// Messages dropped by the gateway because they could not be decoded.
    public internal(set) var malformedMessages = 0
    /// Earliest time a task that failed on an agent may run again (retry backoff).
    var retryNotBefore: [String: ContinuousClock.Instant] = [:]
    /// Agent-side failures per video and agent: an agent that keeps failing a video is not given it again.
    var agentFailures: [String: [String: Int]] = [:]
    /// The agent a task last failed on; another agent is preferred for the retry.
    var lastFailedAgent: [String: String] = [:]
    /// Running tasks inherited from before a restart, waiting for their agent to re-register.
    var orphanedSince: [String: ContinuousClock.Instant] = [:]
    /// History records of attempts in flight, kept here so ending one needs no read.
    var openAttempts: [AttemptRef: AttemptRecord] = [:]
    /// Observed render time of a task (moving average), for the scaling signal.
    var averageRenderSeconds: Double?
    /// Render-time estimates for planning and longest-first scheduling.
    var costModel = CostModel()
    /// Tasks assigned since start, and the time dispatch rounds that assigned them took.
    var assignmentsMade = 0
    var dispatchTime: Duration = .zero
    /// The dispatch round that assigned the most tasks (the first wave of a big video): how many, how long.
    var largestDispatchRound: (assignments: Int, time: Duration) = (0, .zero)
    /// Tasks whose render-cache lookup is in flight: not dispatched meanwhile.
    var cacheLookups: Set<String> = []
    /// Videos being packaged: results that finish a video together must not package it twice.
    var assembling: Set<String> = []
    /// Bytes the render cache holds, once counted; `nil` until the first trim counts them.
    var cacheBytes: Int?
    var trimmingCache = false
    let scaling: ScalingPolicy
    let metrics = FarmMetrics()
    /// Requests for a dispatch round; coalesced (a round takes everything pending). `EngineService` runs them.
    let dispatchRequests: AsyncStream<Void>
    private let requestDispatch: AsyncStream<Void>.Continuation
    /// Slow work started by a handler (assembly, adopting a late insert): `EngineService` runs
    /// each in its task group, so nothing outlives the engine's service.
    let backgroundWork: AsyncStream<@Sendable () async -> Void>
    private let startWork: AsyncStream<@Sendable () async -> Void>.Continuation

    /// Creates an engine over `store`; call `resume()` before serving.
    public init(configuration: EngineConfiguration, store: any FarmStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.discovery = SceneDiscovery(python: configuration.python)
        self.scaling = configuration.scaling
        self.staging = SegmentStaging(root: configuration.stagingDirectory)
        self.writer = StoreWriter(store: store, logger: logger)
        self.logger = logger
        (dispatchRequests, requestDispatch) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (backgroundWork, startWork) = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
    }

    /// Asks for a dispatch round soon, without waiting for it: a handler that
    /// freed a slot returns at once (the gateway handles messages in order, and
    /// a round waits for its assignments to be durable). Requests coalesce.
    nonisolated func scheduleDispatch() {
        requestDispatch.yield()
    }

    /// Runs `work` in the engine service's task group.
    nonisolated func inBackground(_ work: @escaping @Sendable () async -> Void) {
        startWork.yield(work)
    }

    /// Ends the streams `EngineService` consumes: no new dispatch rounds or background work.
    nonisolated func stopIntake() {
        requestDispatch.finish()
        startWork.finish()
    }

    /// Sets how messages reach agents (the gateway's socket).
    public func connect(_ send: @escaping @Sendable (FarmMessage, Data) -> Void) {
        self.send = send
    }

    func send(_ message: FarmMessage, to peer: Data) {
        send(message, peer)
    }

    // MARK: Start-up

    /// Migrates the store and loads unfinished videos. Attempts that were running
    /// when the coordinator stopped stay assigned for one lease: an agent that still
    /// renders one re-registers and hands in its result; attempts whose agent
    /// does not come back go back to the queue.
    public func start() async throws {
        try await store.migrate()
        for (video, videoTasks) in try await store.unfinished() {
            videos[video.id] = video
            taskIDsByVideo[video.id] = videoTasks.map(\.id)
            for task in videoTasks {
                if task.state == .running {
                    orphanedSince[task.id] = .now
                    if let open = try await store.attempts(taskID: task.id).last(where: { $0.attempt == task.attempt }) {
                        openAttempts[AttemptRef(taskID: task.id, attempt: task.attempt)] = open
                    }
                }
                tasks[task.id] = task
            }
            logger.info("resumed video", metadata: ["video": "\(video.id)", "state": "\(video.state)"])
            let renders = videoTasks.filter { $0.work.kind == .render }
            if video.state == .assembling || (!renders.isEmpty && renders.allSatisfy({ $0.state == .done })) {
                inBackground { await self.assemble(videoID: video.id) }
            }
        }
    }

    // MARK: Submissions

    /// Validates, stores and queues a video. Returns only once it is durable.
    /// - Throws: `SubmissionError`.
    public func submit(_ request: SubmitRequest) async throws(SubmissionError) -> VideoStatus {
        let size = request.script.utf8.count
        guard size <= configuration.maxScriptBytes else {
            throw .scriptTooLarge(bytes: size, limit: configuration.maxScriptBytes)
        }
        guard !request.script.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .emptyScript }
        if let key = request.idempotencyKey, let existing = await existingVideo(idempotencyKey: key) {
            return existing
        }
        let selected: [DiscoveredScene]
        do {
            selected = try SceneDiscovery.select(request.scenes, from: try await discovery.scenes(in: request.script))
        } catch let error as ScriptError {
            throw .invalidScript(error)
        } catch {
            throw .invalidScript(.parserFailed("\(error)"))
        }
        let settings = RenderSettings(quality: request.quality ?? .high, seed: request.seed ?? 0)
        let renditions = try Self.ladder(request.ladder, renderHeight: settings.quality.height)

        let now = Date()
        let videoID = "v" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        var video = VideoRecord(
            id: videoID, state: .queued, scriptName: ScriptName.safe(request.scriptName ?? ScriptName.fallback), script: request.script,
            settings: settings, encoding: EncodingPlan(renditions: renditions),
            idempotencyKey: request.idempotencyKey, createdAt: now)
        video.options = VideoOptions(
            priority: request.priority ?? 0, submitter: request.submitter ?? "anonymous",
            scenes: selected.map { SceneSpec(name: $0.name, requiresLaTeX: $0.requiresLaTeX, fingerprint: $0.fingerprint) },
            split: request.split ?? true, useCache: request.cache ?? true)
        let videoTasks = initialTasks(for: video)
        let newVideo = video
        let stored: VideoRecord
        do {
            stored = try await withDeadline(configuration.submitTimeout) { [store] in
                try await store.insert(newVideo, tasks: videoTasks)
            }
        } catch {
            // The insert may still commit after we gave up on it: adopt the video if it does.
            inBackground { await self.adoptIfStored(videoID) }
            throw .notPersisted("\(error)")
        }
        if stored.id != video.id, let existing = await status(videoID: stored.id) {
            return existing  // a concurrent submit with the same key won
        }
        videos[videoID] = video
        taskIDsByVideo[videoID] = videoTasks.map(\.id)
        for task in videoTasks { tasks[task.id] = task }
        logger.info("accepted video", metadata: [
            "video": "\(videoID)", "scenes": "\(selected.map(\.name).joined(separator: ","))",
            "quality": "\(settings.quality.rawValue)", "submitter": "\(video.options.submitter)",
            "priority": "\(video.options.priority)",
        ])
        await planFromCache(videoID: videoID)
        await takeFromCache(videoID: videoID)
        await dispatch()
        if let live = currentStatus(videoID) { return live }
        return await status(videoID: videoID)!  // taken whole from the cache and already published
    }

    /// Loads a video whose submission was refused for a slow store, if the
    /// insert committed after all; waits for the store to answer.
    func adoptIfStored(_ videoID: String) async {
        var delay: Duration = .milliseconds(200)
        while true {
            do {
                guard let video = try await store.video(id: videoID), videos[videoID] == nil, !video.state.isFinal else { return }
                let videoTasks = try await store.tasks(videoID: videoID)
                videos[videoID] = video
                taskIDsByVideo[videoID] = videoTasks.map(\.id)
                for task in videoTasks { tasks[task.id] = task }
                logger.notice("adopted a video whose submission was answered with 503 but did commit", metadata: ["video": "\(videoID)"])
                await dispatch()
                return
            } catch {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func existingVideo(idempotencyKey key: String) async -> VideoStatus? {
        if let video = videos.values.first(where: { $0.idempotencyKey == key }) {
            return currentStatus(video.id)
        }
        guard let recent = try? await store.videos(limit: 1_000),
              let video = recent.first(where: { $0.idempotencyKey == key }) else { return nil }
        return await status(videoID: video.id)
    }

    static func ladder(_ heights: [Int]?, renderHeight: Int) throws(SubmissionError) -> [Rendition] {
        guard let heights else { return Rendition.defaultLadder(forRenderHeight: renderHeight) }
        guard (1...8).contains(heights.count) else { throw .invalidLadder("between 1 and 8 rungs") }
        guard Set(heights).count == heights.count else { throw .invalidLadder("heights repeat") }
        for height in heights where !(144...4320).contains(height) || height % 2 != 0 {
            throw .invalidLadder("\(height) is not an even height between 144 and 4320")
        }
        return heights.sorted(by: >).map { Rendition(height: $0) }
    }

    // MARK: Cancellation

    /// Cancels a video: running attempts are told to stop at once and their
    /// slots freed. Returns `false` if the video is unknown or already final.
    public func cancel(videoID: String) async -> Bool {
        guard var video = videos[videoID] else { return false }
        video.state = .cancelled
        video.error = "cancelled"
        await finish(&video, cancelling: "cancelled by request")
        return true
    }

    /// Ends a video: marks its unfinished tasks cancelled, stops their attempts,
    /// persists, and forgets it from memory.
    func finish(_ video: inout VideoRecord, cancelling reason: String) async {
        video.updatedAt = Date()
        var changed: [TaskRecord] = []
        for id in taskIDsByVideo[video.id] ?? [] {
            guard var task = tasks[id], !task.state.isFinal else { continue }
            if task.state == .running, let agentID = task.agentID {
                let ref = AttemptRef(taskID: id, attempt: task.attempt)
                if let agent = agents[agentID] {
                    agents[agentID]?.running.remove(ref)
                    send(.cancel(Cancel(ref: ref)), to: agent.peer)
                }
                staging.discard(videoID: video.id, ref: ref)
            }
            task.state = .cancelled
            task.updatedAt = Date()
            tasks[id] = task
            changed.append(task)
        }
        let cancelledAttempts = changed.compactMap { task in
            openAttempts[AttemptRef(taskID: task.id, attempt: task.attempt)] == nil ? nil
                : (task, closeAttempt(AttemptRef(taskID: task.id, attempt: task.attempt), agentID: task.agentID, outcome: "cancelled"))
        }
        let finished = video
        forget(videoID: video.id)
        staging.discardVideo(finished.id)
        for task in changed { await writer.enqueue(.task(task)) }
        for (task, attempt) in cancelledAttempts { await writer.enqueue(.attempt(task, attempt)) }
        await writer.enqueue(.video(finished))
        logger.info("video ended", metadata: [
            "video": "\(finished.id)", "state": "\(finished.state)", "reason": "\(finished.error ?? reason)",
        ])
        scheduleDispatch()
    }

    private func forget(videoID: String) {
        for id in taskIDsByVideo[videoID] ?? [] {
            if let task = tasks[id] { openAttempts[AttemptRef(taskID: id, attempt: task.attempt)] = nil }
            tasks[id] = nil
            retryNotBefore[id] = nil
            lastFailedAgent[id] = nil
            orphanedSince[id] = nil
        }
        taskIDsByVideo[videoID] = nil
        agentFailures[videoID] = nil
        videos[videoID] = nil
    }

    /// Ends an attempt's history record with `outcome`.
    func closeAttempt(_ ref: AttemptRef, agentID: String?, outcome: String, logTail: String? = nil) -> AttemptRecord {
        var attempt = openAttempts.removeValue(forKey: ref)
            ?? AttemptRecord(taskID: ref.taskID, attempt: ref.attempt, agentID: agentID ?? "", startedAt: Date())
        attempt.endedAt = Date()
        attempt.outcome = outcome
        attempt.logTail = logTail
        return attempt
    }

    /// Counts a message the gateway could not decode.
    func noteMalformed() {
        malformedMessages += 1
    }
}
