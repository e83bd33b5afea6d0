import FarmProtocol
import Foundation
import Media
import Synchronization

/// One attempt at rendering one scene: Manim in a subprocess streaming raw
/// frames, encoded into every rendition as they arrive, segments sent to the
/// coordinator as soon as each is complete.
///
/// Runs on its own OS thread (reading the pipe and encoding both block).
final class RenderJob: Sendable {
    /// Why the agent stopped a render itself.
    struct Stop: Sendable {
        var reason: FailureReason
        var message: String
    }

    let assign: Assign
    let directory: URL
    let tools: RenderTools
    private let send: @Sendable (FarmMessage) -> Void
    private let state: Mutex<State>
    let started = ContinuousClock.now
    /// When the assignment arrived, on the wall clock (the accounting's timeline of each slot).
    let assignedAt = Date()

    private struct State {
        /// Manim's processes: one, or one per lane of a planning pass (`planLanes`).
        var processes: [any ManimProcess] = []
        var stop: Stop?
        var lastFrame = ContinuousClock.now
        var framesDone = 0
    }

    /// Chunks of segment files sent to the coordinator are at most this large.
    static let chunkSize = 1 << 20

    /// Processes a planning pass may run at once, each planning some of the scenes (see `planLanes`).
    let planProcesses: Int

    init(assign: Assign, directory: URL, tools: RenderTools, planProcesses: Int = 1,
         send: @escaping @Sendable (FarmMessage) -> Void) {
        self.assign = assign
        self.directory = directory
        self.tools = tools
        self.planProcesses = planProcesses
        self.send = send
        state = Mutex(State())
    }

    var ref: AttemptRef { assign.ref }

    /// Seconds since the render started, and since its last frame.
    var clocks: (running: Duration, sinceFrame: Duration) {
        let now = ContinuousClock.now
        return (now - started, now - state.withLock { $0.lastFrame })
    }

    /// Stops the render: kills Manim's whole process group. The job then ends
    /// with a failure of `stop`'s class. The first stop wins.
    func stop(_ stop: Stop) {
        let processes = state.withLock { state -> [any ManimProcess] in
            if state.stop == nil { state.stop = stop }
            return state.processes
        }
        for process in processes { process.signalGroup(SIGKILL) }
    }

    /// Keeps `process` for `stop`; a job stopped already kills it at once (and its outcome is the stop's).
    func adopt(_ process: any ManimProcess) {
        let stopped = state.withLock { state -> Bool in
            state.processes.append(process)
            return state.stop != nil
        }
        if stopped { process.signalGroup(SIGKILL) }
    }

    /// Why the job was stopped, if it was.
    var stopReason: Stop? { state.withLock { $0.stop } }

    /// Notes that the job is alive (resets the no-progress clock).
    func markProgress() {
        state.withLock { $0.lastFrame = .now }
    }

    /// Starts the render on a new thread; `completion` receives its outcome there.
    func start(completion: @escaping @Sendable (FarmMessage) -> Void) {
        let thread = Thread { [self] in
            let outcome = checked(run())
            // Nothing of a task outlives it on the agent, whatever its outcome.
            try? FileManager.default.removeItem(at: directory)
            completion(outcome)
        }
        thread.name = "render-\(assign.scene)"
        thread.start()
    }

    // MARK: Thread side

    private func run() -> FarmMessage {
        let log = LogTail()
        let process: any ManimProcess
        let script = directory.appendingPathComponent(ScriptName.safe(assign.scriptName))
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(assign.script.utf8).write(to: script)
        } catch {
            return failure(.startFailed, "could not start Manim: \(error)", log: "")
        }
        do {
            if let assets = assign.assets { try TaskAssets.place(assets, in: directory) }
        } catch {
            return failure(.startFailed, "could not place the script's assets: \(error)", log: "")
        }
        if assign.taskKind == .plan, planLanes.count > 1 {
            return planInLanes(script: script)
        }
        // Frames come through shared memory when the agent can make it (`FrameRing`), else down the pipe.
        let ring = assign.taskKind == .render && tools.simulation == nil
            ? try? FrameRing(forHeight: assign.settings.quality.height) : nil
        do {
            process = try tools.launch(assign, script: script, directory: directory, ring: ring)
            ring?.handedOver()
        } catch {
            return failure(.startFailed, "could not start Manim: \(error)", log: "")
        }
        var stages = RenderStages()
        var clock = ContinuousClock.now
        stages.launch = Self.seconds(clock - started)
        adopt(process)
        let logDone = log.drain(process.stderr, logFile: directory.appendingPathComponent("manim.log"))
        if assign.taskKind == .plan {
            return plan(process, log: log, logDone: logDone)
        }

        let stream = FrameStream(fd: process.stdout)
        let uploads = SegmentUploader(ref: ref, chunkSize: Self.chunkSize, placement: assign.output, send: send)
        var encoder: SceneEncoder?
        var source: FrameStream.Header?
        var streamError: String?
        var finished = false
        var still: StillImage?
        var lastProgress = ContinuousClock.now
        var firstItem = true
        do {
            loop: while true {
                let item = try stream.next()
                let arrived = ContinuousClock.now
                if firstItem {
                    stages.firstFrame = Self.seconds(arrived - clock)
                    firstItem = false
                } else {
                    stages.waitForFrames += Self.seconds(arrived - clock)
                }
                defer { clock = .now }
                switch item {
                case .frame(let header, _), .sharedFrame(let header, _):
                    guard still == nil else {
                        streamError = "frames after a still"
                        process.signalGroup(SIGKILL)
                        break loop
                    }
                    if encoder == nil {
                        source = header
                        let configuration = try encoderConfiguration(header)
                        encoder = try SceneEncoder(configuration, output: uploads.upload)
                        if let timescale = encoder?.timescale, timescale % configuration.frameRate == 0 {
                            uploads.ticksPerFrame = timescale / configuration.frameRate
                        }
                    }
                    guard header.width == source?.width, header.height == source?.height else {
                        streamError = "frame size changed mid-scene"
                        process.signalGroup(SIGKILL)
                        break loop
                    }
                    switch item {
                    case .frame(_, let pixels):
                        try pixels.withUnsafeBytes { raw in
                            try encoder?.encode(rgba: raw.baseAddress!, stride: header.width * 4, repeatCount: header.repeatCount)
                        }
                    case .sharedFrame(_, let slot):
                        guard let ring else { throw FrameStream.StreamError("a shared frame, and no frame ring was handed over") }
                        let pixels = try ring.pixels(slot: slot, bytes: header.width * header.height * 4)
                        try encoder?.encode(rgba: pixels, stride: header.width * 4, repeatCount: header.repeatCount)
                        ring.release(slot)
                    default:
                        break
                    }
                    if let problem = uploads.failure {
                        streamError = problem
                        process.signalGroup(SIGKILL)
                        break loop
                    }
                    let done = encoder?.framesEncoded ?? 0
                    state.withLock {
                        $0.framesDone = done
                        $0.lastFrame = .now
                    }
                    if ContinuousClock.now - lastProgress > .milliseconds(250) {
                        send(.progress(RenderProgress(ref: ref, framesDone: done)))
                        lastProgress = .now
                    }
                case .still(let width, let height, let frameRate, let pixels):
                    guard encoder == nil, still == nil else {
                        streamError = "a still in a scene with frames"
                        process.signalGroup(SIGKILL)
                        break loop
                    }
                    let png = try pixels.withUnsafeBytes { raw in
                        try StillEncoder.png(rgba: raw.baseAddress!, width: width, height: height, stride: width * 4)
                    }
                    guard png.count <= StillImage.maxBytes else {
                        streamError = "the still's PNG is \(png.count) bytes, above the farm's \(StillImage.maxBytes)"
                        process.signalGroup(SIGKILL)
                        break loop
                    }
                    still = StillImage(width: width, height: height, png: png)
                    // On screen in the video too, for the video's still length: one picture, encoded as that many frames.
                    let seconds = assign.settings.stillSeconds ?? 0
                    if seconds > 0 {
                        let header = FrameStream.Header(width: width, height: height, repeatCount: 1, frameRate: frameRate)
                        let configuration = try encoderConfiguration(header)
                        let frames = max(Int((seconds * Double(configuration.frameRate)).rounded()), 1)
                        source = header
                        encoder = try SceneEncoder(configuration, output: uploads.upload)
                        if let timescale = encoder?.timescale, timescale % configuration.frameRate == 0 {
                            uploads.ticksPerFrame = timescale / configuration.frameRate
                        }
                        try pixels.withUnsafeBytes { raw in
                            try encoder?.encode(rgba: raw.baseAddress!, stride: width * 4, repeatCount: frames)
                        }
                        if let problem = uploads.failure {
                            streamError = problem
                            process.signalGroup(SIGKILL)
                            break loop
                        }
                        state.withLock { $0.framesDone = frames }
                    }
                    state.withLock { $0.lastFrame = .now }
                case .stats(let body):
                    do {
                        let reported = try JSONDecoder().decode(ManimStages.self, from: body)
                        try reported.validate()
                        stages.manim = reported
                    } catch {
                        streamError = "invalid stage timings from Manim: \(error)"
                        process.signalGroup(SIGKILL)
                        break loop
                    }
                case .done:
                    finished = true
                    break loop
                case .plan:
                    streamError = "a plan in a render's stream"
                    process.signalGroup(SIGKILL)
                    break loop
                case .end:
                    break loop
                }
            }
        } catch {
            streamError = "\(error)"
            process.signalGroup(SIGKILL)
        }
        let (termination, tail, stopOutcome) = end(process, stream: stream, log: log, logDone: logDone)
        if let stopOutcome { return stopOutcome }
        if let streamError {
            return failure(.encoderFailed, "encoding failed: \(streamError)", log: tail)
        }
        guard termination == .exited(0), finished else {
            return classify(termination, log: tail)
        }
        if let still, encoder == nil {
            var result = TaskResult(ref: ref, frames: 0, sourceWidth: still.width, sourceHeight: still.height, frameRate: 0,
                                    timescale: 90_000, renditions: [], renderSeconds: Self.seconds(ContinuousClock.now - started))
            result.still = still
            return .result(result)
        }
        do {
            let summaries = try encoder?.finish() ?? []
            if let problem = uploads.failure { return failure(.encoderFailed, "encoding failed: \(problem)", log: tail) }
            var result = uploads.result(
                summaries: summaries, frames: encoder?.framesEncoded ?? 0,
                source: source, timescale: encoder?.timescale ?? 90_000,
                seconds: Self.seconds(ContinuousClock.now - started))
            result.still = still
            if let timings = encoder?.timings {
                stages.convertCPU = timings.convertCPU
                stages.scaleCPU = timings.scaleCPU
                stages.encodeCPU = timings.encodeCPU
                stages.encodeWall = timings.encodeWall
                stages.upload = timings.deliver
            }
            stages.finish = Self.seconds(ContinuousClock.now - clock)
            stages.total = Self.seconds(ContinuousClock.now - started)
            result.stages = stages
            return .result(result)
        } catch {
            return failure(.encoderFailed, "encoding failed: \(error)", log: tail)
        }
    }

    /// Drains the stream (so Manim never blocks on a full pipe while exiting),
    /// reaps the process and reads its log; a job stopped by the agent ends as that stop.
    func end(_ process: any ManimProcess, stream: FrameStream, log: LogTail, logDone: DispatchSemaphore)
        -> (termination: ChildProcess.Termination, log: String, stopped: FarmMessage?)
    {
        stream.discardRest()
        let termination = process.wait()
        logDone.wait()
        let tail = log.text()
        let stopped = stopReason.map { failure($0.reason, $0.message, log: tail) }
        return (termination, tail, stopped)
    }

    private func encoderConfiguration(_ header: FrameStream.Header) throws -> SceneEncoder.Configuration {
        let fps = header.frameRate.rounded()
        guard fps >= 1, fps <= 240, abs(fps - header.frameRate) < 0.001 else {
            throw FrameStream.StreamError("unsupported frame rate \(header.frameRate); ManimFarm needs a whole number")
        }
        return SceneEncoder.Configuration(
            sourceWidth: header.width, sourceHeight: header.height, frameRate: Int(fps),
            renditions: assign.encoding.renditions.map { ($0.height, $0.crf) },
            keyframeSeconds: assign.encoding.keyframeSeconds, segmentSeconds: assign.encoding.segmentSeconds,
            preset: assign.encoding.preset)
    }

    /// What the script's process sent is outside the agent's trust: a report
    /// built from it that the coordinator would refuse becomes a failure here,
    /// so the attempt ends with a reason instead of a message the coordinator drops.
    private func checked(_ outcome: FarmMessage) -> FarmMessage {
        do {
            try outcome.validate()
            return outcome
        } catch {
            return failure(.invalidReport, "the render produced an invalid report: \(error)", log: "")
        }
    }

    func failure(_ reason: FailureReason, _ message: String, log: String) -> FarmMessage {
        .failure(TaskFailure(ref: ref, reason: reason, message: message, logTail: log))
    }

    /// Decides whose fault a failed render was from how Manim ended: the shim's exit
    /// status says what happened (`ShimExit`); the log is only shown, never parsed.
    func classify(_ termination: ChildProcess.Termination, log: String) -> FarmMessage {
        switch termination {
        case .signalled(let signal):
            return failure(.killed, "Manim was killed by signal \(signal)", log: log)
        case .exited(0):
            return failure(.crashed, "Manim exited without finishing the frame stream", log: log)
        case .exited(let code):
            switch ShimExit(rawValue: code) {
            case .scriptRaised:
                return failure(.scriptRaised, Self.lastLine(of: log) ?? "the script raised an exception", log: log)
            case .outOfMemory:
                return failure(.outOfMemory, "the scene exceeded the memory limit of \(assign.limits.memoryBytes >> 20) MiB", log: log)
            case .toolMissing:
                return failure(.toolMissing, Self.lastLine(of: log) ?? "a tool the scene needs is not installed on this agent", log: log)
            case .confinementFailed:
                return failure(.confinementFailed, "the agent could not confine the task (sandbox or control groups)", log: log)
            case nil:
                return failure(.crashed, "Manim exited with status \(code)", log: log)
            }
        }
    }

    /// The last non-blank line of a log: the shim ends a failed run with a one-line summary.
    static func lastLine(of log: String) -> String? {
        log.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { String($0.trimmingCharacters(in: .whitespaces).prefix(500)) }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
