import FarmProtocol
import Foundation

extension RenderJob {
    /// Reads a planning pass: one `PLAN` record per scene, then the end of the stream.
    func plan(_ process: any ManimProcess, log: LogTail, logDone: DispatchSemaphore) -> FarmMessage {
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
                case .frame, .still, .stats, .done:
                    throw FrameStream.StreamError("frames in a planning pass")
                }
            }
        } catch {
            streamError = "\(error)"
            process.signalGroup(SIGKILL)
        }
        let (termination, tail, stopped) = end(process, stream: stream, log: log, logDone: logDone)
        if let stopped { return stopped }
        if let streamError {
            return failure(.encoderFailed, "planning failed: \(streamError)", log: tail)
        }
        guard termination == .exited(0) else { return classify(termination, log: tail) }
        let expected = assign.scenes ?? [assign.scene]
        guard scenes.map(\.scene) == expected else {
            return failure(.invalidReport, "the planning pass reported \(scenes.map(\.scene)) for \(expected)", log: tail)
        }
        return .planned(PlanResult(ref: ref, manimVersion: tools.manimVersion, scenes: scenes,
                                   seconds: Self.seconds(ContinuousClock.now - started)))
    }
}
