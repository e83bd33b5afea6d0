import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

/// What the coordinator knows of a connected agent.
struct AgentState: Sendable {
    var record: AgentRecord
    /// The ZeroMQ routing identity to reach it.
    var peer: Data
    var lastSeen: ContinuousClock.Instant
    /// Attempts assigned to it and not yet ended.
    var running: Set<AttemptRef> = []
    var draining = false
    /// Chosen for scale-in: takes no new work; its instance is being terminated.
    var retiring = false
    /// An operator drained it (`POST /v1/agents/{id}/drain`): it finishes its work and takes no more.
    var drainedByOperator = false

    /// When its connection closed while it was talking (a crash, most likely); cleared by
    /// anything it sends. Past `EngineConfiguration.disconnectGrace` it is lost.
    var disconnectedAt: ContinuousClock.Instant?

    /// Whether new work may go to it.
    var acceptsWork: Bool { !draining && !retiring && !drainedByOperator }
    /// Renders the agent itself said it runs, in its last heartbeat.
    var reportedRunning = 0

    /// Set when the agent handed work back for lack of a slot (a killed render
    /// still winding down): no more work until a heartbeat reports a free slot.
    var full = false

    var freeSlots: Int { full ? 0 : max(record.slots - running.count, 0) }

}
