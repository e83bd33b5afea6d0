import FarmProtocol

/// Running totals of what the farm did, kept by the state machine as it decides and published
/// by the engine as Prometheus counters (`farm_attempts_total`, `farm_frames_rendered_total`, …):
/// what the alert rules and the dashboard in `deploy/monitoring` read.
struct OperationCounters: Equatable, Sendable {
    /// Attempts by how they ended: `done`, `retried` (an agent-side failure handed to another agent),
    /// `failed` (the task failed: its agent's error, a timeout, out of memory) and `script-error` (the script's own).
    var attempts: [String: Int] = [:]
    var agentsLost = 0
    /// Frames rendered and agent-side render seconds, by quality: seconds per frame on the dashboard.
    var framesRendered: [Quality: Int] = [:]
    var renderSeconds: [Quality: Double] = [:]

    static let outcomes = ["done", "retried", "failed", "script-error"]

    mutating func attempt(_ outcome: String) {
        attempts[outcome, default: 0] += 1
    }

    mutating func rendered(frames: Int, seconds: Double, quality: Quality) {
        framesRendered[quality, default: 0] += max(0, frames)
        if seconds.isFinite, seconds >= 0 { renderSeconds[quality, default: 0] += seconds }
    }
}
