import FarmModel
import FarmProtocol
import FarmStorage
import FarmTracing
import Foundation
import Tracing
import ServiceContextModule
import Logging
import ServiceLifecycle

/// The runner of the coordinator's state machine (`FarmCore`): it turns agents'
/// messages and API requests into events, and performs the effects the core
/// returns, in order. Its one rule: an effect that depends on earlier changes (an
/// acknowledged result, an assignment with a fresh attempt number) is performed
/// only once they are durable. The slow parts (the disk, the store's reads,
/// packaging) live here; every decision lives in the core.
public actor FarmEngine {
    let configuration: EngineConfiguration
    let store: any FarmStore
    let discovery: SceneDiscovery
    let staging: SegmentStaging
    let writer: StoreWriter
    let logger: Logger
    var core: FarmCore
    /// Hands a message to the agent behind a routing identity.
    var send: @Sendable (FarmMessage, Data) -> Void = { _, _ in }
    let scaling: ScalingPolicy
    let metrics = FarmMetrics()

    /// Messages dropped by the gateway because they could not be decoded.
    public internal(set) var malformedMessages = 0
    /// Time dispatch rounds that assigned something took, persisting included.
    var dispatchTime: Duration = .zero
    /// The dispatch round that assigned the most tasks (the first wave of a big video): how many, how long.
    var largestDispatchRound: (assignments: Int, time: Duration) = (0, .zero)
    /// Bytes the render cache holds, once counted; `nil` until the first trim counts them.
    var cacheBytes: Int?
    var trimmingCache = false
    /// Counters already added to the metrics (the core counts; `publishMetrics` adds the difference).
    var publishedCounts = (cacheHits: 0, rangesRendered: 0)
    /// The counters as last published, so each publication adds what happened since.
    var publishedCounters = OperationCounters()
    /// The span of each attempt sent to an agent, ended when the attempt is no longer current (`endDispatchSpans`).
    var dispatchSpans: [AttemptRef: any Span] = [:]
    var publishedObjectStoreErrors = 0
    /// Submissions of each team between their quota check and the core hearing of them.
    var submissionsInFlight: [String: Int] = [:]
    /// Videos being packaged now (their outputs are being written).
    var packaging: Set<String> = []
    /// Teams' agent time and published bytes, until `UsageService` writes them.
    nonisolated let usage = UsageMeter()
    /// Where videos are published: the object store, else the data folder.
    let outputs: ObjectOutputConfiguration
    /// Publishes videos while they render.
    let publisher: ProgressivePublisher
    /// Media bytes by the path they took (object-store mode).
    var traffic = ObjectTraffic()
    /// Seconds each rendering video can be watched for already.
    var playableSeconds: [String: Double] = [:]
    /// Parts of `video.mp4` agents were asked to build (see `FarmEngine+Joins`).
    var pendingJoins: [String: PendingJoin] = [:]
    /// Agents that said they build parts, by routing identity.
    var joiningPeers: Set<Data> = []
    /// Sound tracks agents were asked for (see `FarmEngine+Sound`), and the agents that make them.
    var pendingMixes: [String: PendingMix] = [:]
    var mixingPeers: Set<Data> = []
    /// Requests for Manim's API (see `FarmEngine+Describe`), and the agents that answer them.
    var pendingDescriptions: [String: PendingDescription] = [:]
    var describingPeers: Set<Data> = []
    /// Whether the store's ETags are its objects' MD5s (not under SSE-KMS), as its answers showed.
    var storeETagsAreMD5: Bool?

    /// Requests for a dispatch round; coalesced (a round takes everything pending). `EngineService` runs them.
    let dispatchRequests: AsyncStream<Void>
    private let requestDispatch: AsyncStream<Void>.Continuation
    /// Slow work started by an effect (assembly, adopting a late insert, trimming the cache):
    /// `EngineService` runs each in its task group, so nothing outlives the engine's service.
    let backgroundWork: AsyncStream<@Sendable () async -> Void>
    private let startWork: AsyncStream<@Sendable () async -> Void>.Continuation

    /// Creates an engine over `store`; `start()` migrates and resumes before it serves.
    public init(configuration: EngineConfiguration, store: any FarmStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.discovery = SceneDiscovery(python: configuration.python)
        self.scaling = configuration.scaling
        self.staging = SegmentStaging(root: configuration.stagingDirectory)
        self.writer = StoreWriter(store: store, logger: logger)
        self.logger = logger
        self.core = FarmCore(configuration: configuration, logger: logger)
        self.outputs = configuration.objectOutputs ?? .dataFolder(configuration.dataDirectory)
        self.publisher = ProgressivePublisher(objects: outputs)
        (dispatchRequests, requestDispatch) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (backgroundWork, startWork) = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
    }

    /// Sets how messages reach agents (the gateway's socket).
    public func connect(_ send: @escaping @Sendable (FarmMessage, Data) -> Void) {
        self.send = send
    }

    nonisolated func scheduleDispatch() {
        requestDispatch.yield()
    }

    /// Runs `work` in the engine service's task group.
    nonisolated func inBackground(_ work: @escaping @Sendable () async -> Void) {
        startWork.yield(work)
    }

    /// Ends the streams `EngineService` consumes: no new dispatch rounds or background work.
    /// The store writer, for a runner outside a coordinator's service group (benchmarks).
    @_spi(Benchmark) public nonisolated var storeWriter: some Service { writer }

    nonisolated func stopIntake() {
        requestDispatch.finish()
        startWork.finish()
    }

    // MARK: Events in, effects out

    /// Hands `event` to the core and performs what it decided.
    @_spi(Benchmark) public func apply(_ event: FarmEvent) async {
        let effects = core.handle(event)
        await perform(effects)
    }

    /// Performs effects in the core's order. Every change is queued first, at once (no
    /// suspension, so two decisions' changes never interleave); then each effect that
    /// needs durability waits for the changes queued before it.
    private func perform(_ effects: [FarmEffect]) async {
        guard !effects.isEmpty else { return }
        var lastChange: [Int?] = []
        var last: Int?
        for effect in effects {
            if case .persist(let change) = effect { last = writer.enqueue(change) }
            lastChange.append(last)
        }
        var durableThrough = -1
        var gaveUp = false
        var notDurable: [AttemptRef] = []
        for (effect, needed) in zip(effects, lastChange) {
            if effect.needsDurability, let needed, durableThrough < needed {
                if case .assign(let assign, _) = effect {
                    let durable = gaveUp ? false : await writer.waitDurable(needed, timeout: .seconds(2))
                    if !durable {
                        gaveUp = true
                        notDurable.append(assign.ref)
                        continue
                    }
                } else if await !writer.waitDurable(needed, timeout: nil) {
                    continue  // the writer stopped: the coordinator is shutting down
                }
                durableThrough = needed
            }
            await perform(effect)
        }
        if !notDurable.isEmpty { await apply(.assignmentsNotDurable(notDurable)) }
    }

    private func perform(_ effect: FarmEffect) async {
        switch effect {
        case .persist:
            break  // queued above
        case .send(let message, let peer), .sendWhenDurable(let message, let peer):
            send(message, peer)
        case .assign(var assign, let peer):
            // Cancelled or expired while its record was being written: not sent.
            guard core.isCurrent(assign.ref) else { return }
            if assign.taskKind == .render {
                assign.output = await outputPlacement(for: assign)
                guard core.isCurrent(assign.ref) else { return }
            }
            if let video = core.videos[assign.videoID] {
                do {
                    assign.assets = try await assetFiles(for: video)
                } catch {
                    logger.error("could not read a video's assets for its task", metadata: ["task": "\(assign.ref.taskID)", "error": "\(error)"])
                    // A file that is gone stays gone: the video fails naming it. Anything else (a store that does not
                    // answer) may pass: the task goes back to the queue without spending a retry.
                    if let lost = await lostAsset(of: video) {
                        await apply(.assetsLost(videoID: video.id, reason: "the file \(lost) submitted with the video is no longer stored"))
                    }
                    await apply(.assignmentsNotDurable([assign.ref]))
                    return
                }
                guard core.isCurrent(assign.ref) else { return }
            }
            assign.traceParent = startDispatchSpan(assign)
            logger.info("assigned", metadata: [
                "task": "\(assign.ref.taskID)", "scene": "\(assign.scene)", "kind": "\(assign.kind?.rawValue ?? "render")",
                "range": "\(assign.animations.map(\.description) ?? "whole")", "attempt": "\(assign.ref.attempt)",
            ])
            send(.assign(assign), peer)
        case .requestDispatch:
            scheduleDispatch()
        case .lookUpCachedPlan(let videoID, let planTaskID, let key):
            let plan = try? await store.cachedPlan(key: key)
            await apply(.cachedPlanLookedUp(videoID: videoID, planTaskID: planTaskID, plan))
        case .lookUpCachedRenders(let videoID, let candidates):
            let hits = await stageCachedRenders(videoID: videoID, candidates)
            await apply(.cachedRendersLookedUp(videoID: videoID, looked: candidates.map(\.taskID), hits: hits))
        case .rememberInCache(let task, let result):
            await rememberInCache(task, result: result)
        case .assemble(let video, let renders):
            inBackground {
                await withSpan("assemble", context: Self.traceContext(of: video)) { span in
                    span.attributes["farm.video"] = video.id
                    await self.assemble(video, renders)
                }
            }
        case .discardAttemptFiles(let videoID, let ref):
            staging.discard(videoID: videoID, ref: ref)
        case .discardVideoFiles(let videoID):
            staging.discardVideo(videoID)
            inBackground { await self.endPublishing(videoID) }
        case .meterRenderTime(let teamID, let seconds):
            usage.addRenderTime(team: teamID, seconds: seconds)
        }
    }

    // MARK: Start-up

    /// Migrates the store and resumes unfinished videos (see `FarmCore.resume`).
    public func start() async throws {
        // The engine starts in the coordinator that serves: a standby's starts when it takes over.
        metrics.leadershipAcquired.record(Date().timeIntervalSince1970)
        try await store.migrate()
        await installPartJoiner()
        let unfinished = try await store.unfinished()
        var open: [AttemptRecord] = []
        for (_, videoTasks) in unfinished {
            for task in videoTasks where task.state == .running {
                if let attempt = try await store.attempts(taskID: task.id).last(where: { $0.attempt == task.attempt }) {
                    open.append(attempt)
                }
            }
        }
        await apply(.resumed(unfinished, openAttempts: open))
    }

    // MARK: Agents

    /// Handles one decoded message from the agent behind `peer`.
    public func handle(_ message: FarmMessage, from peer: Data) async {
        switch message {
        case .register(let register):
            if register.joinsParts == true { joiningPeers.insert(peer) } else { joiningPeers.remove(peer) }
            if register.mixesAudio == true { mixingPeers.insert(peer) } else { mixingPeers.remove(peer) }
            if register.describesManim == true { describingPeers.insert(peer) } else { describingPeers.remove(peer) }
            await apply(.registered(register, peer: peer))
        case .heartbeat(let heartbeat): await apply(.heartbeat(heartbeat, peer: peer))
        case .progress(let progress): await apply(.progress(progress, peer: peer))
        case .chunk(let chunk, let bytes):
            if let task = core.current(chunk.ref, from: peer) {
                staging.write(chunk, bytes: bytes, videoID: task.videoID)
            } else {
                core.refusedReports += 1
            }
        case .result(let result): await receive(result, from: peer)
        case .failure(let failure): await apply(.failed(failure, peer: peer))
        case .planned(let planned): await receive(planned, from: peer)
        case .joined(let answer): joined(answer, from: peer)
        case .mixed(let answer): mixed(answer, from: peer)
        case .manimDescribed(let answer): described(answer, from: peer)
        case .refused(let refused):
            logger.warning("an agent refused us", metadata: ["reason": "\(refused.reason)"])
        case .registered, .assign, .cancel, .resultAck, .reregister, .join, .mix, .describeManim:
            core.refusedReports += 1  // coordinator-bound only; an agent must not send these
        }
    }

    /// Verifies a result's uploads and moves them into place, then lets the core decide.
    private func receive(_ result: TaskResult, from peer: Data) async {
        guard let task = core.current(result.ref, from: peer), task.work.kind == .render,
              let encoding = core.videos[task.videoID]?.encoding else {
            await apply(.resultStaged(result, peer: peer))  // the core refuses it and says why
            return
        }
        var inStore: Set<String> = []
        switch await verifyStored(result, videoID: task.videoID) {
        case .success(let media):
            inStore = media
        case .failure(let problem) where problem.storeFault:
            logger.error("object store unavailable while checking a result", metadata: ["task": "\(task.id)", "error": "\(problem.message)"])
            await apply(.resultUnstorable(result, peer: peer))
            return
        case .failure(let problem):
            await apply(.resultRefused(result, peer: peer, problem: problem.message))
            return
        }
        if let problem = await staging.verify(result, videoID: task.videoID, expectedHeights: encoding.renditions.map(\.height),
                                              inStore: inStore) {
            await apply(.resultRefused(result, peer: peer, problem: problem))
            return
        }
        // The attempt may have been superseded (lease, cancel) while verifying.
        guard core.current(result.ref, from: peer) != nil else {
            await apply(.resultStaged(result, peer: peer))
            return
        }
        do {
            try await staging.accept(videoID: task.videoID, ref: result.ref)
        } catch {
            logger.error("could not move a result into place", metadata: ["task": "\(task.id)", "error": "\(error)"])
            await apply(.resultUnstorable(result, peer: peer))
            return
        }
        do {
            try await relayChunked(result, videoID: task.videoID)
        } catch {
            // The store stayed unreachable through the client's retries: this attempt fails and spends a retry, so
            // an outage ends the video with this reason after its attempts instead of re-rendering it for ever.
            logger.error("the object store refused an accepted result's files", metadata: ["task": "\(task.id)", "error": "\(error)"])
            await apply(.resultRefused(result, peer: peer, problem: "the object store could not take its files: \(error)"))
            return
        }
        await apply(.resultStaged(result, peer: peer))
        publishProgressively(task.videoID)
    }

    /// A dispatch round (the core decides; this persists and sends).
    @_spi(Benchmark) public func dispatch() async {
        let started = ContinuousClock.now
        let before = core.assignmentsMade
        await apply(.dispatchRound)
        let assigned = core.assignmentsMade - before
        guard assigned > 0 else { return }
        let took = ContinuousClock.now - started
        dispatchTime += took
        if assigned > largestDispatchRound.assignments { largestDispatchRound = (assigned, took) }
        if assigned >= 50 {
            logger.notice("large dispatch round", metadata: ["assignments": "\(assigned)", "seconds": "\(took)"])
        }
    }

    /// The gateway saw the connection behind `peer` close.
    func connectionClosed(peer: Data) async {
        abandonJoins(of: peer)
        abandonMixes(of: peer)
        abandonDescriptions(of: peer)
        await apply(.disconnected(peer: peer))
    }

    func expireLeases() async {
        await apply(.tick)
    }

    /// Counts a message the gateway could not decode.
    func noteMalformed() {
        malformedMessages += 1
    }
}
