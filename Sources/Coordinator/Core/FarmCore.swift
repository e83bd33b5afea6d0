import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Logging

/// The coordinator's decisions as a plain value, in the manner of PostgresNIO's
/// `PoolStateMachine`: it takes one event at a time (`handle`), changes its state
/// synchronously and returns the effects a runner must perform, in order.
/// Nothing here awaits, reads a disk or a socket, so every transition can be
/// tested alone, and driven by random event sequences (`FarmCoreProperties`).
///
/// The runner (`FarmEngine`) keeps one rule: an effect after a `.persist` that
/// `FarmEffect.needsDurability` is performed only once every change before it is durable.
///
/// Where to read what: this file holds the state and the event table; one video's
/// path reads top to bottom through `FarmCore+Videos` (submit, plan, cache, assemble,
/// finish), `FarmCore+Dispatch` (assigning tasks to slots), `FarmCore+Attempts`
/// (results, failures, retries, lost agents) and `FarmCore+Agents` (registration,
/// heartbeats, leases).
@_spi(Benchmark) public struct FarmCore {
    let configuration: EngineConfiguration
    /// Told to agents when they register: a new id tells them the coordinator restarted.
    let coordinatorID: String
    var logger: Logger

    /// Videos not yet final, and their tasks.
    var videos: [String: VideoRecord] = [:]
    var tasks: [String: TaskRecord] = [:]
    var taskIDsByVideo: [String: [String]] = [:]
    var agents: [String: AgentState] = [:]
    var agentIDsByPeer: [Data: String] = [:]
    /// History records of attempts in flight, kept here so ending one needs no read.
    var openAttempts: [AttemptRef: AttemptRecord] = [:]
    /// Earliest time a task that failed on an agent may run again (retry backoff).
    var retryNotBefore: [String: ContinuousClock.Instant] = [:]
    /// Agent-side failures per video and agent: an agent that keeps failing a video is not given it again.
    var agentFailures: [String: [String: Int]] = [:]
    /// The agent a task last failed on; another agent is preferred for the retry.
    var lastFailedAgent: [String: String] = [:]
    /// Running tasks inherited from before a restart, waiting for their agent to re-register.
    var orphanedSince: [String: ContinuousClock.Instant] = [:]
    /// Since when no connected agent may take any of a video's pending tasks (see `failUnplaceable`).
    var unplaceableSince: [String: ContinuousClock.Instant] = [:]
    /// Tasks whose render-cache (or plan-cache) lookup is in flight: not dispatched meanwhile.
    var cacheLookups: Set<String> = []
    /// Videos being packaged: results that finish a video together must not package it twice.
    var assembling: Set<String> = []
    /// Render tasks per video not yet done (kept by `put`): whether a finished scene was the
    /// video's last is answered without walking its tasks.
    var rendersLeft: [String: Int] = [:]
    /// Render-time estimates for planning and longest-first scheduling.
    var costModel = CostModel()
    /// Observed render time of a task (moving average), for the scaling signal.
    var averageRenderSeconds: Double?

    /// Reports refused because they came from a superseded attempt or an unknown agent.
    var refusedReports = 0
    /// Tasks assigned since start.
    public internal(set) var assignmentsMade = 0
    var cacheHits = 0
    /// Teams' render time today against their daily quotas; a team without one has no limit.
    var renderBudgets: [String: RenderBudget] = [:]
    /// Agents an operator drained, by id: they stay drained when they reconnect.
    var operatorDrained: Set<String> = []
    var rangesRendered = 0
    /// What `/metrics` counts: attempts by outcome, agents lost, frames and render time by quality.
    var counters = OperationCounters()

    /// Effects of the event being handled, in the order they were decided.
    private var effects: [FarmEffect] = []

    public init(configuration: EngineConfiguration, coordinatorID: String = UUID().uuidString, logger: Logger) {
        self.configuration = configuration
        self.coordinatorID = coordinatorID
        self.logger = logger
    }

    /// Takes one event; returns what the runner must do, in order.
    public mutating func handle(_ event: FarmEvent, now: ContinuousClock.Instant = .now) -> [FarmEffect] {
        switch event {
        case .resumed(let unfinished, let open):
            resume(unfinished, openAttempts: open, now: now)
        case .submitted(let video, let videoTasks):
            accept(video, videoTasks)
        case .cancelRequested(let videoID):
            cancel(videoID: videoID)
        case .assetsLost(let videoID, let reason), .generatedRefused(let videoID, let reason):
            guard var video = videos[videoID], video.state == .queued || video.state == .rendering else { break }
            video.state = .failed
            video.error = reason
            finish(video, reason: "its assets are lost")
        case .cachedPlanLookedUp(let videoID, let planTaskID, let plan):
            takePlanFromCache(videoID: videoID, planTaskID: planTaskID, plan)
        case .cachedRendersLookedUp(let videoID, let looked, let hits):
            takeRendersFromCache(videoID: videoID, looked: looked, hits: hits)
        case .assembled(let videoID, let outcome):
            finishAssembly(videoID: videoID, outcome)

        case .registered(let agent, let peer):
            register(agent, from: peer, now: now)
        case .heartbeat(let heartbeat, let peer):
            beat(heartbeat, from: peer, now: now)
        case .progress(let progress, let peer):
            heardFrom(peer)
            if fenced(progress.ref, from: peer) != nil { tasks[progress.ref.taskID]?.framesDone = progress.framesDone }
        case .planned(let planned, let peer, let generated):
            plan(planned, from: peer, generated: generated)
        case .resultStaged(let result, let peer):
            acceptResult(result, from: peer)
        case .resultRefused(let result, let peer, let problem):
            refuseResult(result, from: peer, problem: problem)
        case .resultUnstorable(let result, let peer):
            resultCouldNotBeStored(result, from: peer)
        case .failed(let failure, let peer):
            if let task = fenced(failure.ref, from: peer) { failAttempt(task, failure, now: now) }

        case .disconnected(let peer):
            disconnected(peer, now: now)
        case .tick:
            expireLeases(now: now)
            failUnplaceable(now: now)
        case .dispatchRound:
            dispatch(now: now)
        case .renderBudgets(let budgets):
            renderBudgets = budgets
        case .drainRequested(let agentID, let drain):
            setDrained(agentID, drain)
        case .assignmentsNotDurable(let refs):
            takeBack(refs)
        }
        defer { effects = [] }
        return effects
    }

    mutating func emit(_ effect: FarmEffect) {
        effects.append(effect)
    }

    mutating func persist(_ change: StoreChange) {
        effects.append(.persist(change))
    }

    /// Stores a task's new state, keeping `rendersLeft`.
    mutating func put(_ task: TaskRecord) {
        let previous = tasks.updateValue(task, forKey: task.id)
        let delta = (Self.isRenderLeft(task) ? 1 : 0) - (previous.map(Self.isRenderLeft) == true ? 1 : 0)
        if delta != 0 || (task.work.kind == .render && rendersLeft[task.videoID] == nil) {
            rendersLeft[task.videoID, default: 0] += delta
        }
    }

    static func isRenderLeft(_ task: TaskRecord) -> Bool {
        task.work.kind == .render && task.state != .done
    }

    // MARK: Queries the runner and the status pages use

    /// The task a report may change: only the current attempt, from the agent it was
    /// assigned to, while it runs. Anything else is refused and counted.
    mutating func fenced(_ ref: AttemptRef, from peer: Data) -> TaskRecord? {
        guard let task = current(ref, from: peer) else {
            refusedReports += 1
            return nil
        }
        return task
    }

    /// Like `fenced`, without counting: for the runner's checks before slow work.
    func current(_ ref: AttemptRef, from peer: Data) -> TaskRecord? {
        // Agents route with their id as ZeroMQ identity, so an agent whose reports
        // reach a restarted coordinator before it re-registers is still recognised.
        let agentID = agentIDsByPeer[peer] ?? String(decoding: peer, as: UTF8.self)
        guard let task = tasks[ref.taskID], task.state == .running,
              task.attempt == ref.attempt, task.agentID == agentID else { return nil }
        return task
    }

    /// Whether `ref` is still a running, current attempt (an assignment about to be sent).
    func isCurrent(_ ref: AttemptRef) -> Bool {
        tasks[ref.taskID].map { $0.state == .running && $0.attempt == ref.attempt } ?? false
    }

    /// A video's render tasks (not its plan), in playback order.
    func renderTasks(of videoID: String) -> [TaskRecord] {
        (taskIDsByVideo[videoID] ?? []).compactMap { tasks[$0] }.filter { $0.work.kind == .render }
            .sorted { $0.ordinal < $1.ordinal }
    }

    /// The render identity (Manim version and environment) every connected agent has, if they agree.
    var fleetRenderIdentity: String? {
        let identities = Set(agents.values.map(\.record.renderIdentity))
        return identities.count == 1 ? identities.first.flatMap { $0.hasPrefix("unavailable") ? nil : $0 } : nil
    }

    /// Render slots of the connected fleet.
    var fleetSlots: Int {
        max(agents.values.filter(\.acceptsWork).reduce(0) { $0 + $1.record.slots }, 1)
    }

    public var queueDepth: Int {
        tasks.values.filter { $0.state == .pending }.count
    }

    public var runningCount: Int {
        tasks.values.filter { $0.state == .running }.count
    }

    /// Videos whose packaging is in flight.
    public var videosAssembling: [String] { assembling.sorted() }
}

/// What happens to the coordinator: messages from agents, requests from the API,
/// answers to the effects it asked for, and the clock.
@_spi(Benchmark) public enum FarmEvent {
    /// Unfinished videos read from the store at start-up, with the history records of running attempts.
    case resumed([(VideoRecord, [TaskRecord])], openAttempts: [AttemptRecord])
    /// A video and its first tasks, already durable.
    case submitted(VideoRecord, [TaskRecord])
    case cancelRequested(videoID: String)
    /// A file submitted with the video is no longer stored: no agent could render it, so it fails saying so.
    case assetsLost(videoID: String, reason: String)
    /// The files a plan made cannot be kept (too many, too large, or the store refused them): the video fails saying so.
    case generatedRefused(videoID: String, reason: String)
    /// The answer to `.lookUpCachedPlan`.
    case cachedPlanLookedUp(videoID: String, planTaskID: String, CachedPlan?)
    /// The answer to `.lookUpCachedRenders`: every task looked up, and the hits, whose files are now staged.
    case cachedRendersLookedUp(videoID: String, looked: [String], hits: [String: TaskResult])
    /// The answer to `.assemble`.
    case assembled(videoID: String, AssemblyOutcome)

    case registered(Register, peer: Data)
    case heartbeat(Heartbeat, peer: Data)
    case progress(RenderProgress, peer: Data)
    /// A plan; `generated` are the files its pass made (narration), already stored as the video's assets.
    case planned(PlanResult, peer: Data, generated: [AssetRef] = [])
    /// A result whose uploads were verified and moved to the task's accepted folder.
    case resultStaged(TaskResult, peer: Data)
    /// A result whose uploads failed verification.
    case resultRefused(TaskResult, peer: Data, problem: String)
    /// A verified result whose files could not be moved into place.
    case resultUnstorable(TaskResult, peer: Data)
    case failed(TaskFailure, peer: Data)

    /// The connection behind `peer` closed (the gateway's socket monitor).
    case disconnected(peer: Data)
    /// The clock: leases, disconnected agents' grace and orphaned attempts expire.
    case tick
    /// Hand pending tasks to free slots.
    case dispatchRound
    /// Assignments whose attempt records did not become durable in time: not sent, back to the queue.
    case assignmentsNotDurable([AttemptRef])
    /// Each team's render time today and its daily quota (the usage meter's latest counts).
    case renderBudgets([String: RenderBudget])
    /// An operator drains an agent (no new work; what runs finishes) or gives it work again.
    case drainRequested(agentID: String, drain: Bool)
}

/// A team's render time on agent slots today and its daily quota, in seconds.
public struct RenderBudget: Sendable, Equatable {
    public var usedSeconds: Double
    public var limitSeconds: Double

    public init(usedSeconds: Double, limitSeconds: Double) {
        self.usedSeconds = usedSeconds
        self.limitSeconds = limitSeconds
    }
}

/// How packaging a video ended.
@_spi(Benchmark) public enum AssemblyOutcome: Sendable {
    case published(frames: Int, seconds: Double)
    case failed(String)
}

/// What the runner does for the core.
@_spi(Benchmark) public enum FarmEffect {
    /// Queue a change for the store, behind every earlier one.
    case persist(StoreChange)
    /// Send a message now (it depends on nothing unwritten).
    case send(FarmMessage, to: Data)
    /// Send once every change before it is durable: an acknowledged result.
    case sendWhenDurable(FarmMessage, to: Data)
    /// Send an assignment once every change before it is durable; if that takes longer
    /// than the runner's patience, answer `.assignmentsNotDurable` instead.
    case assign(Assign, to: Data)
    /// Ask for a dispatch round soon (rounds coalesce).
    case requestDispatch
    /// Look up a cached plan; answer `.cachedPlanLookedUp`.
    case lookUpCachedPlan(videoID: String, planTaskID: String, key: String)
    /// Look up cached renders and stage their files; answer `.cachedRendersLookedUp`.
    case lookUpCachedRenders(videoID: String, [(taskID: String, key: String)])
    /// Keep an accepted render's files in the render cache.
    case rememberInCache(TaskRecord, TaskResult)
    /// Package a video's accepted renders; answer `.assembled`.
    case assemble(VideoRecord, [TaskRecord])
    /// Delete an attempt's staged uploads.
    case discardAttemptFiles(videoID: String, AttemptRef)
    /// Delete everything staged for a video.
    case discardVideoFiles(videoID: String)
    /// Count agent time a team's render (or plan) attempt took against its daily quota.
    case meterRenderTime(teamID: String, seconds: Double)

    /// Whether the runner must wait for earlier changes to be durable before performing it.
    public var needsDurability: Bool {
        switch self {
        case .sendWhenDurable, .assign: true
        default: false
        }
    }
}
