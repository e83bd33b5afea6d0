import Foundation

/// How far a video is: frames done of the frames expected, tasks done, and an estimate of the
/// time left. The CLI, the web pages and `GET /v1/events` all show this one reckoning.
public struct VideoProgress: Codable, Sendable, Equatable {
    public var framesDone: Int
    /// Frames the plan expects; `nil` until every task's length is known (before planning ends).
    public var framesExpected: Int?
    public var tasksDone: Int
    public var tasks: Int
    /// Seconds until the last task ends, from the planner's estimates of what is left, shared
    /// among the tasks running now; `nil` when nothing is estimated or the video is final.
    public var etaSeconds: Double?

    public init(framesDone: Int, framesExpected: Int?, tasksDone: Int, tasks: Int, etaSeconds: Double?) {
        self.framesDone = framesDone
        self.framesExpected = framesExpected
        self.tasksDone = tasksDone
        self.tasks = tasks
        self.etaSeconds = etaSeconds
    }

    public init(_ status: VideoStatus) {
        let scenes = status.scenes
        var done = 0, expected: Int? = 0, remaining = 0.0, estimated = false
        for scene in scenes {
            // Reports are clamped to what the plan expects, so no sum here can overflow or go backwards.
            let frames = (scene.frames ?? scene.expectedFrames).map { max(0, $0) }
            let sceneDone = max(0, min(scene.framesDone, frames ?? scene.framesDone))
            done = done.addingReportingOverflow(sceneDone).overflow ? done : done + sceneDone
            if let frames, let sum = expected { expected = sum.addingReportingOverflow(frames).overflow ? nil : sum + frames } else { expected = nil }
            guard !scene.state.isFinal, let seconds = scene.estimatedSeconds, seconds.isFinite, seconds >= 0 else { continue }
            estimated = true
            let left = frames.map { $0 > 0 ? 1 - Double(sceneDone) / Double($0) : 1 } ?? 1
            remaining += seconds * max(0, left)
        }
        framesDone = done
        framesExpected = scenes.isEmpty ? nil : expected
        tasksDone = scenes.count(where: { $0.state == .done })
        tasks = scenes.count
        let running = max(1, scenes.count(where: { $0.state == .running }))
        etaSeconds = status.state.isFinal || !estimated ? nil : remaining / Double(running)
    }

    /// Done as a fraction of expected, 0...1; `nil` while the length is unknown.
    public var fraction: Double? {
        guard let framesExpected, framesExpected > 0 else { return nil }
        return min(1, Double(framesDone) / Double(framesExpected))
    }
}
