import FarmProtocol
import Foundation

extension RenderJob {
    /// The scenes each process of a planning pass plans, in lanes dealt round-robin from the video's order.
    ///
    /// A planning pass holds up every render of its video, and on a farm with free cores it ran alone on one of them
    /// (5.5 s of the eight-scene `formulas.py`, another slot idle meanwhile). Lanes run in parallel, as many as the
    /// agent had cores to spare when the task came (`planProcesses`). A narrated script plans in one lane:
    /// manim-voiceover keeps one cache index that every scene's narration extends, which lanes would fork.
    var planLanes: [[String]] {
        let scenes = assign.scenes ?? [assign.scene]
        let narrated = assign.script.contains("voiceover")
        let count = narrated || tools.simulation != nil ? 1 : max(1, min(planProcesses, scenes.count))
        return (0..<count).map { lane in stride(from: lane, to: scenes.count, by: count).map { scenes[$0] } }
    }

    /// Reads a planning pass: one `PLAN` record per scene, then the end of the stream.
    func plan(_ process: any ManimProcess, log: LogTail, logDone: DispatchSemaphore) -> FarmMessage {
        switch readPlan(process, log: log, logDone: logDone, expected: assign.scenes ?? [assign.scene]) {
        case .success(let scenes):
            return .planned(PlanResult(ref: ref, manimVersion: tools.manimVersion, scenes: scenes,
                                       seconds: Self.seconds(ContinuousClock.now - started)))
        case .failure(let outcome):
            return outcome.message
        }
    }

    /// Plans the scenes in lanes, each in its own Manim process read on its own thread; the plan lists the scenes
    /// in the video's order again. The first lane that fails is the task's failure.
    func planInLanes(script: URL) -> FarmMessage {
        let lanes = planLanes
        let outcomes = LaneOutcomes(count: lanes.count)
        let group = DispatchGroup()
        for (index, scenes) in lanes.enumerated() {
            group.enter()
            let thread = Thread { [self] in
                outcomes.set(index, planLane(index, scenes: scenes, script: script))
                group.leave()
            }
            thread.name = "plan-lane-\(index)"
            thread.start()
        }
        group.wait()
        var planned: [String: ScenePlan] = [:]
        for outcome in outcomes.all {
            switch outcome {
            case .success(let scenes): for scene in scenes { planned[scene.scene] = scene }
            case .failure(let failed): return failed.message
            case nil: return failure(.crashed, "a planning lane ended without an outcome", log: "")
            }
        }
        let order = assign.scenes ?? [assign.scene]
        return .planned(PlanResult(ref: ref, manimVersion: tools.manimVersion, scenes: order.compactMap { planned[$0] },
                                   seconds: Self.seconds(ContinuousClock.now - started)))
    }

    private func planLane(_ lane: Int, scenes: [String], script: URL) -> Result<[ScenePlan], FailedPlan> {
        var laneAssign = assign
        laneAssign.scenes = scenes
        let log = LogTail()
        let process: any ManimProcess
        do {
            process = try tools.launch(laneAssign, script: script, directory: directory, lane: lane)
        } catch {
            return .failure(FailedPlan(message: failure(.startFailed, "could not start Manim: \(error)", log: "")))
        }
        adopt(process)
        let logDone = log.drain(process.stderr, logFile: directory.appendingPathComponent("manim-\(lane).log"))
        return readPlan(process, log: log, logDone: logDone, expected: scenes)
    }

    /// The scenes one planning process reported, or the failure the task ends with.
    private func readPlan(_ process: any ManimProcess, log: LogTail, logDone: DispatchSemaphore,
                          expected: [String]) -> Result<[ScenePlan], FailedPlan> {
        let stream = FrameStream(fd: process.stdout)
        var scenes: [ScenePlan] = []
        var streamError: String?
        do {
            loop: while true {
                switch try stream.next() {
                case .plan(let body):
                    let scene = try JSONDecoder().decode(ScenePlan.self, from: body)
                    try scene.validate()
                    scenes.append(scene)
                    markProgress()
                case .end:
                    break loop
                case .frame, .sharedFrame, .still, .stats, .done:
                    throw FrameStream.StreamError("frames in a planning pass")
                }
            }
        } catch {
            streamError = "\(error)"
            process.signalGroup(SIGKILL)
        }
        let (termination, tail, stopped) = end(process, stream: stream, log: log, logDone: logDone)
        if let stopped { return .failure(FailedPlan(message: stopped)) }
        if let streamError {
            return .failure(FailedPlan(message: failure(.encoderFailed, "planning failed: \(streamError)", log: tail)))
        }
        guard termination == .exited(0) else { return .failure(FailedPlan(message: classify(termination, log: tail))) }
        guard scenes.map(\.scene) == expected else {
            return .failure(FailedPlan(message: failure(.invalidReport, "the planning pass reported \(scenes.map(\.scene)) for \(expected)",
                                                        log: tail)))
        }
        return .success(scenes)
    }
}

/// A planning process's failure: the message the task ends with.
struct FailedPlan: Error {
    var message: FarmMessage
}

/// Each lane's outcome, written by the lane's thread and read once every lane has ended.
private final class LaneOutcomes: @unchecked Sendable {
    // `lock` orders every access.
    private var outcomes: [Result<[ScenePlan], FailedPlan>?]
    private let lock = NSLock()

    init(count: Int) {
        outcomes = Array(repeating: nil, count: count)
    }

    func set(_ index: Int, _ outcome: Result<[ScenePlan], FailedPlan>) {
        lock.withLock { outcomes[index] = outcome }
    }

    var all: [Result<[ScenePlan], FailedPlan>?] { lock.withLock { outcomes } }
}
