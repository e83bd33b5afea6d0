import FarmProtocol
import FarmTracing
import Foundation
import Logging
import ServiceContextModule
import ServiceLifecycle
import Tracing
import ZeroMQ

/// A render agent: registers with the coordinator over a DEALER socket, takes
/// assignments up to its slots, renders each in its own Manim process, and
/// drains gracefully on shutdown.
public actor AgentService: Service {
    private let configuration: AgentConfiguration
    private let context: ZMQContext
    private let logger: Logger
    private var link: CoordinatorLink?
    private var jobs: [AttemptRef: RenderJob] = [:]
    /// Each job's span, a child of the coordinator's span for the attempt (when the assignment carried one).
    private var spans: [AttemptRef: any Span] = [:]
    private var draining = false
    private var lastContact = ContinuousClock.now
    private var lastHeartbeat = ContinuousClock.now
    private var heartbeatInterval: Duration = .seconds(1)
    private var registered = false
    private var manimVersion = "unknown"
    /// The render environment's fingerprint (`RenderEnvironment`); `nil` when Manim is missing or simulated.
    private var environment: String?
    private var tools: RenderTools?
    private var drained: CheckedContinuation<Void, Never>?
    /// Parts of the object store's uploads being built now (`JoinPart`), by request id.
    private var joins: Set<String> = []
    private var mixes: Set<String> = []
    private var describing = false
    /// Joins at once: each holds a part (about 16 MiB) in memory and a connection or two.
    static let maxJoins = 2
    static let maxMixes = 1
    /// Renders that ended, from their threads to the service's task group.
    private let outcomes: AsyncStream<(RenderJob, FarmMessage)>
    private let reportOutcome: AsyncStream<(RenderJob, FarmMessage)>.Continuation
    /// A graceful shutdown, from its handler to the service's task group (which drains).
    private let shutdownRequests: AsyncStream<Void>
    private let requestShutdown: AsyncStream<Void>.Continuation

    public init(configuration: AgentConfiguration, context: ZMQContext, logger: Logger = Logger(label: "farm.agent")) {
        self.configuration = configuration
        self.context = context
        self.logger = logger
        (outcomes, reportOutcome) = AsyncStream.makeStream()
        (shutdownRequests, requestShutdown) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func run() async throws {
        guard let shim = Bundle.module.path(forResource: "farm_shim", ofType: "py") else {
            throw AgentError.missingShim
        }
        let detected = configuration.simulatedRender != nil
            ? RenderEnvironment(manimVersion: "simulated", fingerprint: nil, packages: [])
            : await RenderEnvironment.detect(python: configuration.python)
        (manimVersion, environment) = (detected.manimVersion, detected.fingerprint)
        var tools = RenderTools(python: configuration.python, shim: shim, manimVersion: detected.identity,
                                simulation: configuration.simulatedRender)
        if configuration.simulatedRender == nil {
            tools.sandbox = try await SandboxProbe.choose(configuration, shim: shim, logger: logger)
            tools.cgroups = TaskCgroup.Layout.detect()
            if tools.cgroups == nil {
                logger.warning("no control groups for tasks: process and memory ceilings rest on rlimits alone")
            }
        }
        if configuration.warmWorkers && configuration.simulatedRender == nil {
            let warm = WarmForkServer(python: configuration.python, shim: shim, environment: tools.environment(),
                                      sandbox: tools.sandbox)
            do {
                try warm.prepare()
                tools.warm = warm
            } catch {
                logger.warning("no warm fork server; every task starts Python cold", metadata: ["error": "\(error)"])
            }
        }
        self.tools = tools
        defer { tools.warm?.shutdown() }
        let link = try CoordinatorLink(
            context: context, endpoints: configuration.coordinators, identity: Data(configuration.agentID.utf8),
            curve: configuration.curve)
        self.link = link
        logger.info("agent starting", metadata: [
            "agent": "\(configuration.agentID)", "coordinators": "\(configuration.coordinators.joined(separator: ","))",
            "slots": "\(configuration.slots)", "manim": "\(manimVersion)", "python": "\(configuration.python)",
            "environment": "\(environment ?? "none")", "packages": "\(detected.packages.count)",
        ])
        register()

        let (outcomes, shutdownRequests) = (self.outcomes, self.shutdownRequests)
        let (reportOutcome, requestShutdown) = (self.reportOutcome, self.requestShutdown)
        // Everything the agent runs is a child of this group: nothing outlives `run()`.
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await link.run() }
                group.addTask {
                    for await frames in link.messages { await self.receive(frames) }
                }
                group.addTask {
                    for await (job, outcome) in outcomes { await self.finished(job, outcome) }
                }
                group.addTask {
                    for await _ in shutdownRequests {
                        await self.drain()
                        return
                    }
                }
                group.addTask {
                    while await !self.isFinished() {
                        await self.tick()
                        try? await Task.sleep(for: .milliseconds(250))
                    }
                    // Let the last reports leave before the socket closes; then the other children end.
                    link.close()
                    reportOutcome.finish()
                    requestShutdown.finish()
                }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            requestShutdown.yield()
        }
        logger.info("agent stopped", metadata: ["agent": "\(configuration.agentID)"])
    }

    // MARK: Messages

    private func receive(_ frames: [Data]) async {
        lastContact = .now
        let message: FarmMessage
        do {
            message = try FarmWire.decode(frames)
        } catch {
            logger.warning("dropped a malformed message from the coordinator", metadata: ["error": "\(error)"])
            return
        }
        switch message {
        case .registered(let registered):
            self.registered = true
            heartbeatInterval = .milliseconds(max(registered.heartbeatMilliseconds, 100))
            logger.info("registered", metadata: ["coordinator": "\(registered.coordinatorID)"])
        case .reregister:
            register()
        case .assign(let assign):
            start(assign)
        case .join(let join):
            startJoin(join)
        case .mix(let mix):
            startMix(mix)
        case .describeManim(let request):
            describeManim(request)
        case .cancel(let cancel):
            jobs[cancel.ref]?.stop(.init(reason: .cancelled, message: "cancelled by the coordinator"))
        case .resultAck(let ack) where !ack.accepted:
            logger.warning("result refused", metadata: ["task": "\(ack.ref.taskID)", "reason": "\(ack.reason ?? "")"])
        case .refused(let refused):
            logger.error("the coordinator refused this agent", metadata: ["reason": "\(refused.reason)"])
        case .heartbeat, .resultAck:
            break
        case .register, .progress, .chunk, .result, .failure, .planned, .joined, .mixed, .manimDescribed:
            logger.warning("dropped an agent-bound message kind from the coordinator")
        }
    }

    private func send(_ message: FarmMessage) {
        link?.send(FarmWire.encode(message))
    }

    private func register() {
        send(.register(Register(
            agentID: configuration.agentID, hostname: configuration.hostname, slots: configuration.slots,
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: Int64(ProcessInfo.processInfo.physicalMemory), manimVersion: manimVersion,
            hasLaTeX: configuration.hasLaTeX ?? AgentConfiguration.detectLaTeX(), running: Array(jobs.keys),
            instanceID: configuration.instanceID, joinsParts: true, environment: environment, takesAssets: true, mixesAudio: true, describesManim: true)))
    }

    private func heartbeat() {
        send(.heartbeat(Heartbeat(running: Array(jobs.keys), freeSlots: draining ? 0 : max(configuration.slots - jobs.count, 0),
                                  draining: draining)))
        lastHeartbeat = .now
    }

    // MARK: Joins

    /// Builds a part of `video.mp4` in the object store on a thread of its own; a busy or draining agent says so
    /// at once, and the coordinator builds the part itself.
    private func startJoin(_ join: JoinPart) {
        guard !draining, joins.count < Self.maxJoins, !joins.contains(join.id) else {
            send(.joined(JoinedPart(id: join.id, size: 0, md5: "", error: draining ? "agent is draining" : "agent is busy joining")))
            return
        }
        joins.insert(join.id)
        let link = self.link
        Thread {
            let joined = PartJoinJob.run(join)
            link?.send(FarmWire.encode(.joined(joined)))
            Task { await self.joinEnded(joined) }
        }.start()
    }

    private func joinEnded(_ joined: JoinedPart) {
        joins.remove(joined.id)
        if let error = joined.error {
            logger.warning("could not build a part in the object store", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Sound tracks

    /// Makes a video's sound track on a thread of its own (it takes no render slot: decoding and AAC run
    /// hundreds of times faster than real time); a busy or draining agent says so and another is asked.
    private func startMix(_ mix: MixAudio) {
        guard !draining, mixes.count < Self.maxMixes, !mixes.contains(mix.id) else {
            send(.mixed(MixedAudio(id: mix.id, sequence: 0, last: true, error: draining ? "agent is draining" : "agent is busy mixing")))
            return
        }
        mixes.insert(mix.id)
        let link = self.link
        Thread {
            var failure: String?
            AudioMixJob.run(mix) { answer in
                if answer.last { failure = answer.error }
                link?.send(FarmWire.encode(.mixed(answer)))
            }
            let ended = failure
            Task { await self.mixEnded(mix.id, failure: ended) }
        }.start()
    }

    private func mixEnded(_ id: String, failure: String?) {
        mixes.remove(id)
        if let failure { logger.warning("could not make a sound track", metadata: ["error": "\(failure)"]) }
    }

    // MARK: Manim's API

    /// Lists Manim's API on a thread of its own, one listing at a time.
    private func describeManim(_ request: DescribeManim) {
        guard !describing else {
            send(.manimDescribed(ManimDescription(id: request.id, error: "agent is listing Manim's API already")))
            return
        }
        describing = true
        let link = self.link, python = configuration.python
        Thread {
            link?.send(FarmWire.encode(.manimDescribed(ManimDescriber.describe(request, python: python))))
            Task { await self.describeEnded() }
        }.start()
    }

    private func describeEnded() { describing = false }

    // MARK: Renders

    private func start(_ assign: Assign) {
        guard !draining, jobs.count < configuration.slots, jobs[assign.ref] == nil, let tools else {
            // Hand it straight back; the coordinator requeues without spending a retry.
            send(.failure(TaskFailure(ref: assign.ref, reason: draining ? .handedBack : .noFreeSlot,
                                      message: draining ? "agent is draining" : "agent has no free slot", logTail: "")))
            return
        }
        let directory = configuration.workDirectory.appendingPathComponent("\(assign.ref.taskID)-\(assign.ref.attempt)")
        let link = self.link
        // A planning pass holds up its whole video: it may use the cores this agent's other renders leave free.
        let spareCores = ProcessInfo.processInfo.activeProcessorCount - jobs.count
        let job = RenderJob(assign: assign, directory: directory, tools: tools, planProcesses: min(max(spareCores, 1), 4)) { message in
            link?.send(FarmWire.encode(message))
        }
        jobs[assign.ref] = job
        logger.info("rendering", metadata: ["task": "\(assign.ref.taskID)", "scene": "\(assign.scene)", "attempt": "\(assign.ref.attempt)"])
        if let parent = assign.traceParent.flatMap(TraceParent.init) {
            var context = ServiceContext.topLevel
            context.traceParent = parent
            let span = InstrumentationSystem.tracer.startAnySpan(assign.taskKind == .plan ? "agent plan" : "agent render \(assign.scene)",
                                                                 context: context, ofKind: .consumer)
            span.attributes["farm.agent"] = configuration.agentID
            span.attributes["farm.task"] = assign.ref.taskID
            span.attributes["farm.attempt"] = assign.ref.attempt
            spans[assign.ref] = span
        }
        let reportOutcome = self.reportOutcome
        job.start { outcome in reportOutcome.yield((job, outcome)) }
    }

    private func finished(_ job: RenderJob, _ outcome: FarmMessage) {
        jobs[job.ref] = nil
        if let span = spans.removeValue(forKey: job.ref) {
            switch outcome {
            case .failure(let failure): span.setStatus(SpanStatus(code: .error, message: failure.reason.rawValue))
            case .result(let result):
                span.attributes["farm.frames"] = result.frames
                span.attributes["farm.render_seconds"] = result.renderSeconds
            default: break
            }
            span.end()
        }
        send(outcome)
        // Each slot's timeline, for accounting where the farm's time goes (bench/accounting.py).
        let timeline: Logger.Metadata = [
            "task": "\(job.ref.taskID)", "attempt": "\(job.ref.attempt)", "kind": "\(job.assign.taskKind.rawValue)",
            "assignedAt": "\(job.assignedAt.timeIntervalSince1970)", "endedAt": "\(Date().timeIntervalSince1970)",
        ]
        if case .failure(let failure) = outcome {
            // A script's own error message is its owner's, not the agent log's: the class says enough here.
            logger.warning("render failed", metadata: timeline.merging([
                "reason": "\(failure.reason.rawValue)",
                "message": "\(failure.failureClass == .scriptError ? "(the script's)" : failure.message)",
            ]) { $1 })
        } else {
            try? FileManager.default.removeItem(at: job.directory)
            var metadata = timeline
            if case .planned = outcome { metadata["lanes"] = "\(job.planLanes.count)" }
            if case .result(let result) = outcome, let stages = result.stages,
               let json = try? JSONEncoder().encode(stages) {
                metadata["frames"] = "\(result.frames)"
                metadata["stages"] = "\(String(decoding: json, as: UTF8.self))"
            }
            logger.info("render done", metadata: metadata)
        }
        heartbeat()
        if draining && jobs.isEmpty { drained?.resume(); drained = nil }
    }

    /// Enforces each render's limits.
    private func watchdog() {
        for job in jobs.values {
            let (running, sinceFrame) = job.clocks
            let limits = job.assign.limits
            if running > .seconds(limits.wallSeconds) {
                job.stop(.init(reason: .wallClockLimit, message: "exceeded the wall-clock limit of \(limits.wallSeconds) s"))
            } else if sinceFrame > .seconds(limits.noProgressSeconds) {
                job.stop(.init(reason: .noProgress, message: "produced no frame for \(limits.noProgressSeconds) s"))
            }
        }
    }

    private func tick() {
        watchdog()
        if ContinuousClock.now - lastContact > configuration.coordinatorTimeout {
            // ZeroMQ reconnects a socket by itself; with several coordinators, try the next
            // one (a standby that took over). Registering again resynchronises state.
            lastContact = .now
            if let link, link.endpoints.count > 1, let endpoint = try? link.failover() {
                logger.warning("no word from the coordinator; trying the next one", metadata: ["coordinator": "\(endpoint)"])
            } else {
                logger.warning("no word from the coordinator; registering again")
            }
            register()
        }
        if ContinuousClock.now - lastHeartbeat >= heartbeatInterval { heartbeat() }
    }

    private var stopped = false

    private func isFinished() -> Bool { stopped }

    /// Takes no new work, lets running renders finish within the grace period,
    /// hands back the rest, then stops.
    private func drain() async {
        draining = true
        heartbeat()
        logger.info("draining", metadata: ["running": "\(jobs.count)"])
        if !jobs.isEmpty {
            let grace = configuration.drainGrace
            await withTaskGroup(of: Void.self) { group in
                // Renders still running when the grace ends are handed back.
                group.addTask {
                    guard (try? await Task.sleep(for: grace)) != nil else { return }
                    await self.handBackRunningRenders()
                }
                await withCheckedContinuation { drained = $0 }
                group.cancelAll()
            }
        }
        try? await Task.sleep(for: .milliseconds(200))
        stopped = true
    }

    private func handBackRunningRenders() {
        for job in jobs.values {
            job.stop(.init(reason: .handedBack, message: "handed back: the agent is shutting down"))
        }
    }
}

/// Why an agent could not start.
public enum AgentError: Error, CustomStringConvertible {
    case missingShim

    public var description: String {
        switch self {
        case .missingShim: "farm_shim.py is missing from the agent's resources"
        }
    }
}
