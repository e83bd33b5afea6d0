import ObjectStorage
import FarmProtocol
import FarmStorage
import Foundation

extension FarmEngine {
    /// Estimated render seconds of the work not yet finished: pending tasks at
    /// the average observed render time, running ones at what is left of it.
    public func pendingWorkSeconds() -> Double {
        let estimate = core.averageRenderSeconds ?? scaling.defaultTaskSeconds
        let now = Date()
        return core.tasks.values.reduce(0) { total, task in
            switch task.state {
            case .pending: total + estimate
            case .running: total + max(estimate - now.timeIntervalSince(task.updatedAt), estimate * 0.1)
            default: total
            }
        }
    }

    /// Agents the queue needs now, by the scaling policy.
    public func desiredAgents() -> Int {
        scaling.desiredAgents(workSeconds: pendingWorkSeconds())
    }

    /// Agents that may be removed now without interrupting a render: idle,
    /// cloud-managed (they reported an instance id), at most `count` of them.
    /// They are marked retiring: no new work goes to them.
    public func retireIdleAgents(count: Int, among instanceIDs: Set<String>) -> [(agentID: String, instanceID: String)] {
        guard count > 0 else { return [] }
        let idle = core.agents.values.filter { agent in
            agent.running.isEmpty && agent.acceptsWork && agent.record.instanceID.map(instanceIDs.contains) == true
        }
            .sorted { $0.record.id < $1.record.id }.prefix(count)
        for agent in idle { core.agents[agent.record.id]?.retiring = true }
        return idle.map { ($0.record.id, $0.record.instanceID!) }
    }

    /// Gives work to a retired agent again (its termination failed).
    public func unretire(agentID: String) {
        core.agents[agentID]?.retiring = false
        scheduleDispatch()
    }

    /// Agents connected and not retiring.
    public var activeAgentCount: Int {
        core.agents.values.filter(\.acceptsWork).count
    }

    /// Updates the gauges behind `/metrics`.
    func publishMetrics() async {
        metrics.queueDepth.record(queueDepth)
        metrics.runningTasks.record(core.tasks.values.filter { $0.state == .running }.count)
        metrics.agents.record(core.agents.count)
        metrics.freeSlots.record(core.agents.values.filter(\.acceptsWork).reduce(0) { $0 + $1.freeSlots })
        metrics.activeVideos.record(core.videos.count)
        metrics.pendingWorkSeconds.record(pendingWorkSeconds())
        metrics.desiredAgents.record(desiredAgents())
        metrics.malformedMessages.record(malformedMessages)
        metrics.refusedReports.record(core.refusedReports)
        metrics.storeBacklog.record(writer.backlog)
        metrics.cacheHits.increment(by: Int64(core.cacheHits - publishedCounts.cacheHits))
        metrics.rangesRendered.increment(by: Int64(core.rangesRendered - publishedCounts.rangesRendered))
        publishedCounts = (core.cacheHits, core.rangesRendered)
        publishCounters()
        endDispatchSpans()
    }

    /// The operations counters and gauges the alert rules read (deploy/monitoring/alerts.yml).
    func publishCounters() {
        let counters = core.counters, before = publishedCounters
        for (outcome, counter) in metrics.attempts {
            counter.increment(by: Int64(max(0, counters.attempts[outcome, default: 0] - before.attempts[outcome, default: 0])))
        }
        metrics.agentsLost.increment(by: Int64(max(0, counters.agentsLost - before.agentsLost)))
        for quality in Quality.allCases {
            metrics.framesRendered[quality]?.increment(by: Int64(max(0, counters.framesRendered[quality, default: 0] - before.framesRendered[quality, default: 0])))
            metrics.renderSeconds[quality]?.increment(by: max(0, counters.renderSeconds[quality, default: 0] - before.renderSeconds[quality, default: 0]))
        }
        publishedCounters = counters
        let storeErrors = S3Client.failedRequests.load(ordering: .relaxed)
        metrics.objectStoreErrors.increment(by: Int64(max(0, storeErrors - publishedObjectStoreErrors)))
        publishedObjectStoreErrors = storeErrors
        let oldest = core.tasks.values.lazy.filter { $0.state == .pending }.map(\.updatedAt).min()
        metrics.oldestQueuedSeconds.record(oldest.map { max(0, Date().timeIntervalSince($0)) } ?? 0)
    }
}
