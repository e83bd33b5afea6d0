@_spi(Benchmark) @testable import Coordinator
import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Logging

/// Drives the coordinator's state machine without Manim, sockets or a database:
/// a model store that applies `.persist` effects when "flushed", agents that obey
/// the messages delivered to them, and a clock that moves when told. Effects that
/// need durability wait in an outbox until the changes before them are flushed,
/// exactly as the runner waits for the store writer. Records what the invariants
/// need and reports violations as strings.
struct FarmSimulation {
    struct SimAgent {
        var id: String
        var peer: Data
        var alive = true
        var running: Set<AttemptRef> = []
        var slots: Int
        var hasLaTeX: Bool
        /// Its render environment's fingerprint, as `Register.environment`.
        var environment: String?

        /// What its plans report (`AgentRecord.renderIdentity`).
        var identity: String { environment.map { "0.22.0 env:\($0)" } ?? "0.22.0" }
    }

    /// What the model store holds: only flushed changes.
    struct DurableState {
        var videos: [String: VideoRecord] = [:]
        var tasks: [String: TaskRecord] = [:]
        var attempts: [AttemptRef: AttemptRecord] = [:]

        mutating func apply(_ change: StoreChange, violations: inout [String]) {
            switch change {
            case .video(let video):
                if let before = videos[video.id], before.state.isFinal, before.state != video.state || video != before {
                    violations.append("video \(video.id) changed after it ended (\(before.state) → \(video.state))")
                }
                videos[video.id] = video
            case .task(let task): tasks[task.id] = task
            case .attempt(let task, let attempt):
                tasks[task.id] = task
                attempts[AttemptRef(taskID: attempt.taskID, attempt: attempt.attempt)] = attempt
            case .planned(let plan, let attempt, let renders):
                tasks[plan.id] = plan
                attempts[AttemptRef(taskID: attempt.taskID, attempt: attempt.attempt)] = attempt
                for task in renders { tasks[task.id] = task }
            case .agent, .cachedRender, .cachedPlan, .uncachedRender: break
            }
        }

        var unfinished: [(VideoRecord, [TaskRecord])] {
            videos.values.filter { !$0.state.isFinal }.sorted { $0.id < $1.id }.map { video in
                (video, tasks.values.filter { $0.videoID == video.id }.sorted { $0.ordinal < $1.ordinal })
            }
        }
    }

    let configuration: EngineConfiguration
    var core: FarmCore
    var durable = DurableState()
    /// Changes emitted and not yet flushed, in order.
    var unflushed: [StoreChange] = []
    /// Effects waiting for the changes before them: (changes that must be flushed first, effect).
    var outbox: [(needs: Int, effect: FarmEffect)] = []
    /// Changes flushed since the simulation began (the durable sequence).
    var flushed = 0
    /// Answers the runner owes the core (cache lookups, assembly).
    var answers: [FarmEvent] = []
    var agents: [String: SimAgent] = [:]
    var now = ContinuousClock.now
    var videoCount = 0
    var restarts = 0
    /// Agent time the core metered, per team.
    var metered: [String: Double] = [:]

    // What the invariants check.
    var violations: [String] = []
    var deliveredAssigns: Set<AttemptRef> = []
    var acceptedRefs: Set<AttemptRef> = []
    var ackedRefs: Set<AttemptRef> = []
    var submitted: Set<String> = []

    init(configuration: EngineConfiguration? = nil) {
        var configuration = configuration ?? EngineConfiguration(
            dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("farm-sim"))
        configuration.renderCache = false
        self.configuration = configuration
        core = FarmCore(configuration: configuration, coordinatorID: "c0", logger: Logger(label: "sim", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    // MARK: Events

    mutating func send(_ event: FarmEvent) {
        let effects = core.handle(event, now: now)
        run(effects)
        checkInvariants()
    }

    private mutating func run(_ effects: [FarmEffect]) {
        for effect in effects {
            switch effect {
            case .persist(let change):
                unflushed.append(change)
            case .send(let message, let peer):
                deliver(message, to: peer)
            case .sendWhenDurable(let message, let peer):
                if case .resultAck(let ack) = message, ack.accepted { acceptedRefs.insert(ack.ref) }
                outbox.append((flushed + unflushed.count, .sendWhenDurable(message, to: peer)))
            case .assign(let assign, let peer):
                outbox.append((flushed + unflushed.count, .assign(assign, to: peer)))
            case .lookUpCachedPlan(let videoID, let planTaskID, _):
                answers.append(.cachedPlanLookedUp(videoID: videoID, planTaskID: planTaskID, nil))
            case .lookUpCachedRenders(let videoID, let candidates):
                answers.append(.cachedRendersLookedUp(videoID: videoID, looked: candidates.map(\.taskID), hits: [:]))
            case .assemble(let video, let renders):
                for task in renders {
                    guard task.state == .done, let result = task.result else {
                        violations.append("assembling \(video.id) with \(task.id) not done")
                        continue
                    }
                    if !acceptedRefs.contains(result.ref) {
                        violations.append("assembling \(video.id) from \(task.id) attempt \(result.ref.attempt), which was never accepted")
                    }
                }
                answers.append(.assembled(videoID: video.id, .published(frames: renders.count, seconds: 1)))
            case .meterRenderTime(let team, let seconds):
                metered[team, default: 0] += seconds
            case .requestDispatch, .rememberInCache, .discardAttemptFiles, .discardVideoFiles:
                break
            }
        }
    }

    /// Delivers `message` as the runner would, for tests of the checks themselves.
    mutating func deliverForTest(_ message: FarmMessage, to peer: Data) {
        deliver(message, to: peer)
    }

    private mutating func deliver(_ message: FarmMessage, to peer: Data) {
        guard let id = agents.values.first(where: { $0.peer == peer })?.id, agents[id]!.alive else { return }
        switch message {
        case .assign(let assign):
            if deliveredAssigns.contains(assign.ref) {
                violations.append("attempt \(assign.ref.attempt) of \(assign.ref.taskID) assigned twice")
            }
            deliveredAssigns.insert(assign.ref)
            agents[id]!.running.insert(assign.ref)
        case .cancel(let cancel):
            agents[id]!.running.remove(cancel.ref)
        case .resultAck(let ack) where ack.accepted:
            ackedRefs.insert(ack.ref)
        default:
            break
        }
    }

    /// Makes every emitted change durable and sends what waited for it.
    mutating func flush() {
        for change in unflushed { durable.apply(change, violations: &violations) }
        flushed += unflushed.count
        unflushed = []
        let ready = outbox.filter { $0.needs <= flushed }
        outbox.removeAll { $0.needs <= flushed }
        for (_, effect) in ready {
            switch effect {
            case .sendWhenDurable(let message, let peer): deliver(message, to: peer)
            case .assign(let assign, let peer): if core.isCurrent(assign.ref) { deliver(.assign(assign), to: peer) }
            default: break
            }
        }
        checkInvariants()
    }

    /// The runner's patience ran out: assignments still waiting go back to the queue.
    mutating func giveUpOnAssignments() {
        let refs = outbox.compactMap { entry -> AttemptRef? in
            if case .assign(let assign, _) = entry.effect { return assign.ref }
            return nil
        }
        outbox.removeAll { if case .assign = $0.effect { return true } else { return false } }
        if !refs.isEmpty { send(.assignmentsNotDurable(refs)) }
    }

    mutating func answerOne() {
        guard !answers.isEmpty else { return }
        send(answers.removeFirst())
    }

    /// The coordinator process dies: everything not flushed is lost, and a new core resumes from the store.
    mutating func restart() {
        unflushed = []
        outbox = []
        answers = []
        restarts += 1
        core = FarmCore(configuration: configuration, coordinatorID: "c\(restarts)",
                        logger: Logger(label: "sim", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = durable.tasks.values.filter { $0.state == .running }
        let open = running.compactMap { durable.attempts[AttemptRef(taskID: $0.id, attempt: $0.attempt)] }
        send(.resumed(durable.unfinished, openAttempts: open))
    }

    mutating func submit(scenes: Int, split: Bool, latex: Bool = false, team: String? = nil) {
        videoCount += 1
        let id = "v\(videoCount)"
        var video = VideoRecord(id: id, state: .queued, scriptName: "s.py", script: "from manim import *",
                                settings: RenderSettings(quality: .low, seed: 0),
                                encoding: EncodingPlan(renditions: Rendition.defaultLadder(forRenderHeight: 480)), idempotencyKey: nil, createdAt: Date())
        video.options = VideoOptions(priority: 0, submitter: "s\(videoCount % 2)",
                                     scenes: (0..<scenes).map { SceneSpec(name: "S\($0)", requiresLaTeX: latex && $0 == 0) },
                                     split: split, useCache: false)
        video.teamID = team
        let tasks = core.initialTasks(for: video)
        // Submissions are durable before the core hears of them.
        durable.videos[id] = video
        for task in tasks { durable.tasks[task.id] = task }
        submitted.insert(id)
        send(.submitted(video, tasks))
    }

    mutating func join(_ id: String, slots: Int = 1, hasLaTeX: Bool = true, environment: String? = nil) {
        var agent = agents[id] ?? SimAgent(id: id, peer: Data(id.utf8), slots: slots, hasLaTeX: hasLaTeX, environment: environment)
        agent.alive = true
        agents[id] = agent
        send(.registered(Register(agentID: id, hostname: id, slots: agent.slots, cores: 2, memoryBytes: 1 << 30,
                                  manimVersion: "0.22.0", hasLaTeX: agent.hasLaTeX, running: Array(agent.running),
                                  environment: agent.environment),
                         peer: agent.peer))
    }

    /// The agent's process dies: it stops beating, forgets its renders, and its connection closes.
    mutating func kill(_ id: String) {
        guard let agent = agents[id], agent.alive else { return }
        agents[id]?.alive = false
        agents[id]?.running = []
        send(.disconnected(peer: agent.peer))
    }

    mutating func beat(_ id: String) {
        guard let agent = agents[id], agent.alive else { return }
        send(.heartbeat(Heartbeat(running: Array(agent.running), freeSlots: max(agent.slots - agent.running.count, 0)),
                        peer: agent.peer))
    }

    mutating func advance(_ duration: Duration) {
        now += duration
        send(.tick)
    }

    /// The agent ends one of its renders: a result (or a plan), or a failure of `reason`.
    mutating func finish(_ id: String, _ ref: AttemptRef, failing reason: FailureReason? = nil) {
        guard let agent = agents[id], agent.alive, agent.running.contains(ref) else { return }
        agents[id]!.running.remove(ref)
        if let reason {
            send(.failed(TaskFailure(ref: ref, reason: reason, message: "simulated", logTail: ""), peer: agent.peer))
        } else if ref.taskID.hasSuffix("-plan") {
            let videoID = String(ref.taskID.dropLast(5))
            let scenes = durable.videos[videoID]?.options.scenes ?? core.videos[videoID]?.options.scenes ?? []
            send(.planned(PlanResult(ref: ref, manimVersion: agent.identity,
                                     scenes: scenes.map { ScenePlan(scene: $0.name, animations: [PlannedAnimation(seconds: 1, frames: 15)]) },
                                     seconds: 0.1), peer: agent.peer))
        } else {
            send(.resultStaged(Self.result(ref), peer: agent.peer))
        }
    }

    /// A report for `ref` arrives again, late, from `id`.
    mutating func resend(_ id: String, _ ref: AttemptRef) {
        guard let agent = agents[id] else { return }
        send(.resultStaged(Self.result(ref), peer: agent.peer))
    }

    static func result(_ ref: AttemptRef) -> TaskResult {
        TaskResult(ref: ref, frames: 15, sourceWidth: 854, sourceHeight: 480, frameRate: 15, timescale: 90_000,
                   renditions: [], renderSeconds: 1)
    }

    // MARK: Invariants

    mutating func checkInvariants() {
        // A slot holds only the current, running attempt of its task.
        for agent in core.agents.values {
            for ref in agent.running {
                guard let task = core.tasks[ref.taskID] else {
                    violations.append("agent \(agent.record.id) holds \(ref.taskID), which the core forgot")
                    continue
                }
                if task.state != .running || task.attempt != ref.attempt || task.agentID != agent.record.id {
                    violations.append("agent \(agent.record.id) holds \(ref.taskID) attempt \(ref.attempt), "
                                      + "but the task is \(task.state) attempt \(task.attempt) on \(task.agentID ?? "none")")
                }
            }
        }
        // Every running task is held by its agent's slot, or waits for its agent to come back.
        for task in core.tasks.values where task.state == .running {
            let ref = AttemptRef(taskID: task.id, attempt: task.attempt)
            let held = task.agentID.flatMap { core.agents[$0] }?.running.contains(ref) ?? false
            if !held && core.orphanedSince[task.id] == nil {
                violations.append("\(task.id) runs attempt \(task.attempt) on \(task.agentID ?? "none") but no slot holds it")
            }
        }
        // The count of render tasks left per video matches the tasks themselves.
        for videoID in core.videos.keys {
            let left = (core.taskIDsByVideo[videoID] ?? []).compactMap { core.tasks[$0] }.filter(FarmCore.isRenderLeft).count
            let hasRenders = (core.taskIDsByVideo[videoID] ?? []).contains { core.tasks[$0]?.work.kind == .render }
            if core.rendersLeft[videoID] != (hasRenders ? left : nil) {
                violations.append("\(videoID): rendersLeft \(String(describing: core.rendersLeft[videoID])), counted \(left)")
            }
        }
        // An acknowledged result is durable: the task is done, or its video ended.
        for ref in ackedRefs {
            guard let task = durable.tasks[ref.taskID] else { continue }
            let videoFinal = durable.videos[task.videoID]?.state.isFinal ?? false
            if !videoFinal && !(task.state == .done && task.result?.ref.attempt == ref.attempt) {
                violations.append("acknowledged \(ref.taskID) attempt \(ref.attempt) but the store has it \(task.state)")
            }
        }
    }

    /// Every submitted video, in the store.
    var unendedVideos: [String] {
        submitted.filter { !(durable.videos[$0]?.state.isFinal ?? false) }.sorted()
    }
}
