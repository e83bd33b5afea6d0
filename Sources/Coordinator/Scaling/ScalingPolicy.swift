/// How many agents the queue needs: enough to drain the pending and running
/// work within a target time, within bounds.
public struct ScalingPolicy: Sendable, Equatable {
    /// Work should drain within this many seconds.
    public var targetDrainSeconds: Double = 600
    public var minAgents = 0
    public var maxAgents = 50
    /// Render slots each agent brings.
    public var slotsPerAgent = 1
    /// Assumed render time of a task before any has finished.
    public var defaultTaskSeconds: Double = 60

    public init() {}

    /// Agents needed for `workSeconds` of estimated render time.
    public func desiredAgents(workSeconds: Double) -> Int {
        guard workSeconds > 0 else { return minAgents }
        let slots = (workSeconds / targetDrainSeconds).rounded(.up)
        let agents = Int((slots / Double(max(slotsPerAgent, 1))).rounded(.up))
        return min(max(agents, minAgents), maxAgents)
    }
}
