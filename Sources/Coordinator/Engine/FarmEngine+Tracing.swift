import FarmModel
import FarmProtocol
import FarmTracing
import Foundation
import ServiceContextModule
import Tracing

/// Traces (when a tracer is bootstrapped, `--otlp-endpoint`): a video's trace starts with the request that
/// submitted it (its context is kept in the video's options); each attempt sent to an agent is a span of it
/// (`plan` or `render <Scene>`), whose context travels in the `Assign` so the agent's spans are its children;
/// assembly is one more. The state machine knows nothing of this: the engine starts a span as it sends an
/// assignment and ends it on its clock once the attempt is no longer current.
extension FarmEngine {
    static func traceContext(of video: VideoRecord) -> ServiceContext {
        var context = ServiceContext.topLevel
        context.traceParent = video.options.traceParent.flatMap(TraceParent.init)
        return context
    }

    /// Starts the attempt's span; its `traceparent` for the agent, `nil` when traces are off or the video has none.
    func startDispatchSpan(_ assign: Assign) -> String? {
        guard let video = core.videos[assign.videoID], video.options.traceParent != nil else { return nil }
        let name = assign.taskKind == .plan ? "plan" : "render \(assign.scene)"
        let span = InstrumentationSystem.tracer.startAnySpan(name, context: Self.traceContext(of: video), ofKind: .producer)
        guard span.isRecording, let parent = span.context.traceParent else { return nil }
        span.attributes["farm.video"] = assign.videoID
        span.attributes["farm.task"] = assign.ref.taskID
        span.attributes["farm.attempt"] = assign.ref.attempt
        if let animations = assign.animations { span.attributes["farm.animations"] = animations.description }
        dispatchSpans[assign.ref]?.end()
        dispatchSpans[assign.ref] = span
        return parent.description
    }

    /// Ends the spans of attempts that ended: done, failed, handed back or superseded.
    func endDispatchSpans() {
        for (ref, span) in dispatchSpans {
            let task = core.tasks[ref.taskID]
            guard task?.attempt != ref.attempt || task?.state != .running else { continue }
            if let task, task.attempt == ref.attempt {
                span.attributes["farm.state"] = task.state.rawValue
                if task.state == .failed { span.setStatus(SpanStatus(code: .error, message: task.error?.failureClass.rawValue)) }
                if let frames = task.result?.frames { span.attributes["farm.frames"] = frames }
            } else {
                span.attributes["farm.state"] = "retried"
            }
            span.end()
            dispatchSpans[ref] = nil
        }
    }
}
