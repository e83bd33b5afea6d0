import FarmModel
import FarmProtocol
import FarmStorage
import Foundation

/// Agents joining, beating and vanishing.
extension FarmCore {
    mutating func register(_ register: Register, from peer: Data, now: ContinuousClock.Instant) {
        if let previousPeer = agents[register.agentID]?.peer, previousPeer != peer {
            agentIDsByPeer[previousPeer] = nil
        }
        var agent = agents[register.agentID]
            ?? AgentState(record: AgentRecord(register, lastSeen: Date()), peer: peer, lastSeen: now)
        agent.record = AgentRecord(register, lastSeen: Date())
        agent.peer = peer
        agent.lastSeen = now
        agent.disconnectedAt = nil
        agent.drainedByOperator = operatorDrained.contains(register.agentID)  // kept across its reconnections
        agents[register.agentID] = agent
        agentIDsByPeer[peer] = register.agentID
        emit(.send(.registered(Registered(
            coordinatorID: coordinatorID,
            heartbeatMilliseconds: Self.milliseconds(configuration.heartbeat),
            leaseMilliseconds: Self.milliseconds(configuration.lease))), to: peer))
        logger.info("agent registered", metadata: [
            "agent": "\(register.agentID)", "slots": "\(register.slots)", "latex": "\(register.hasLaTeX)",
            "manim": "\(register.manimVersion)",
        ])
        reconcile(agentID: register.agentID, reported: Set(register.running), peer: peer, now: now)
        persist(.agent(agent.record))
        emit(.requestDispatch)
    }

    mutating func beat(_ heartbeat: Heartbeat, from peer: Data, now: ContinuousClock.Instant) {
        guard let agentID = agentIDsByPeer[peer], var agent = agents[agentID] else {
            emit(.send(.reregister, to: peer))
            return
        }
        let wasDraining = agent.draining, wasFull = agent.full
        agent.lastSeen = now
        agent.disconnectedAt = nil
        agent.draining = heartbeat.draining
        agent.reportedRunning = heartbeat.running.count
        if wasFull && heartbeat.freeSlots > 0 { agent.full = false }
        agents[agentID] = agent
        emit(.send(.heartbeat(Heartbeat()), to: peer))
        if (wasDraining && !heartbeat.draining) || (wasFull && heartbeat.freeSlots > 0) { emit(.requestDispatch) }
    }

    /// An agent's connection closed. If it was talking until now (its last message within a
    /// few heartbeats), its process most likely died: unless it speaks again within the grace,
    /// it is lost at the next tick. A connection that closed after a long silence (ZeroMQ's own
    /// heartbeat timed out) is left to the lease, so a network blip does not cost the agent its work.
    mutating func disconnected(_ peer: Data, now: ContinuousClock.Instant) {
        guard let agentID = agentIDsByPeer[peer], let agent = agents[agentID], agent.peer == peer else { return }
        guard now - agent.lastSeen < configuration.heartbeat * 3 else { return }
        agents[agentID]?.disconnectedAt = now
        logger.notice("agent disconnected", metadata: ["agent": "\(agentID)", "running": "\(agent.running.count)"])
    }

    /// Anything an agent sends proves its connection is back.
    mutating func heardFrom(_ peer: Data) {
        if let agentID = agentIDsByPeer[peer], agents[agentID]?.disconnectedAt != nil {
            agents[agentID]?.disconnectedAt = nil
        }
    }

    /// Aligns what an agent runs with what the coordinator believes: attempts
    /// it runs that are no longer current are cancelled there; attempts the
    /// coordinator assigned to it that it does not run are lost (see `loseAttempt`).
    private mutating func reconcile(agentID: String, reported: Set<AttemptRef>, peer: Data, now: ContinuousClock.Instant) {
        for ref in reported {
            if let task = tasks[ref.taskID], task.state == .running, task.attempt == ref.attempt, task.agentID == agentID {
                agents[agentID]?.running.insert(ref)
                orphanedSince[ref.taskID] = nil  // adopted after a coordinator restart
            } else {
                emit(.send(.cancel(Cancel(ref: ref)), to: peer))
            }
        }
        let forgotten = tasks.values.filter {
            $0.state == .running && $0.agentID == agentID && !reported.contains(AttemptRef(taskID: $0.id, attempt: $0.attempt))
        }
        // The agent restarted without them: perhaps the task is what killed it.
        for task in forgotten.sorted(by: { $0.id < $1.id }) {
            loseAttempt(AttemptRef(taskID: task.id, attempt: task.attempt), now: now)
        }
    }

    /// Declares agents silent for longer than the lease lost; each attempt they
    /// ran spends a retry of its task (see `loseAttempt`).
    mutating func expireLeases(now: ContinuousClock.Instant) {
        let lost = agents.values.filter { agent in
            now - agent.lastSeen > configuration.lease
                || agent.disconnectedAt.map { now - $0 > configuration.disconnectGrace } ?? false
        }.sorted { $0.record.id < $1.record.id }
        var abandoned: [AttemptRef] = []
        // Attempts inherited from before a restart whose agent did not come back.
        for (taskID, since) in orphanedSince where now - since > configuration.lease {
            guard let task = tasks[taskID], task.state == .running else {
                orphanedSince[taskID] = nil
                continue
            }
            if let agentID = task.agentID, agents[agentID] != nil { continue }
            abandoned.append(AttemptRef(taskID: taskID, attempt: task.attempt))
        }
        guard !lost.isEmpty || !abandoned.isEmpty else { return }
        counters.agentsLost += lost.count
        for agent in lost {
            agents[agent.record.id] = nil
            agentIDsByPeer[agent.peer] = nil
            abandoned += agent.running.sorted { ($0.taskID, $0.attempt) < ($1.taskID, $1.attempt) }
            logger.warning("agent lost", metadata: [
                "agent": "\(agent.record.id)", "silentSeconds": "\(Double(Self.milliseconds(now - agent.lastSeen)) / 1_000)",
                "requeued": "\(agent.running.count)",
            ])
        }
        for ref in abandoned { loseAttempt(ref, now: now) }
        emit(.requestDispatch)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let parts = duration.components
        return Int(parts.seconds) * 1_000 + Int(parts.attoseconds / 1_000_000_000_000_000)
    }

    /// An operator's drain: the agent finishes what it runs and gets nothing new until undrained.
    mutating func setDrained(_ agentID: String, _ drain: Bool) {
        if drain { operatorDrained.insert(agentID) } else { operatorDrained.remove(agentID) }
        agents[agentID]?.drainedByOperator = drain
        logger.notice(drain ? "agent drained by an operator" : "agent undrained by an operator", metadata: ["agent": "\(agentID)"])
        if !drain { emit(.requestDispatch) }
    }
}
