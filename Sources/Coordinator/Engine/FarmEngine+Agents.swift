import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

extension FarmEngine {
    /// Handles one decoded message from the agent behind `peer`.
    public func handle(_ message: FarmMessage, from peer: Data) async {
        switch message {
        case .register(let register): await handleRegister(register, from: peer)
        case .heartbeat(let heartbeat): await handleHeartbeat(heartbeat, from: peer)
        case .progress(let progress): handleProgress(progress, from: peer)
        case .chunk(let chunk, let bytes): handleChunk(chunk, bytes: bytes, from: peer)
        case .result(let result): await handleResult(result, from: peer)
        case .failure(let failure): await handleFailure(failure, from: peer)
        case .planned(let planned): await handlePlanned(planned, from: peer)
        case .refused(let refused):
            logger.warning("an agent refused us", metadata: ["reason": "\(refused.reason)"])
        case .registered, .assign, .cancel, .resultAck, .reregister:
            refusedReports += 1  // coordinator-bound only; an agent must not send these
        }
    }

    private func handleRegister(_ register: Register, from peer: Data) async {
        let now = ContinuousClock.now
        if let previousPeer = agents[register.agentID]?.peer, previousPeer != peer {
            agentIDsByPeer[previousPeer] = nil
        }
        var agent = agents[register.agentID]
            ?? AgentState(record: AgentRecord(register, lastSeen: Date()), peer: peer, lastSeen: now)
        agent.record = AgentRecord(register, lastSeen: Date())
        agent.peer = peer
        agent.lastSeen = now
        agents[register.agentID] = agent
        agentIDsByPeer[peer] = register.agentID
        send(.registered(Registered(
            coordinatorID: coordinatorID,
            heartbeatMilliseconds: Int(Self.seconds(configuration.heartbeat) * 1_000),
            leaseMilliseconds: Int(Self.seconds(configuration.lease) * 1_000))), to: peer)
        logger.info("agent registered", metadata: [
            "agent": "\(register.agentID)", "slots": "\(register.slots)", "latex": "\(register.hasLaTeX)",
            "manim": "\(register.manimVersion)",
        ])
        await reconcile(agentID: register.agentID, reported: Set(register.running), peer: peer)
        await writer.enqueue(.agent(agent.record))
        scheduleDispatch()
    }

    private func handleHeartbeat(_ heartbeat: Heartbeat, from peer: Data) async {
        guard let agentID = agentIDsByPeer[peer], agents[agentID] != nil else {
            send(.reregister, to: peer)
            return
        }
        agents[agentID]?.lastSeen = .now
        let wasDraining = agents[agentID]?.draining ?? false
        agents[agentID]?.draining = heartbeat.draining
        agents[agentID]?.reportedRunning = heartbeat.running.count
        let wasFull = agents[agentID]?.full ?? false
        if wasFull && heartbeat.freeSlots > 0 { agents[agentID]?.full = false }
        send(.heartbeat(Heartbeat()), to: peer)
        if (wasDraining && !heartbeat.draining) || (wasFull && heartbeat.freeSlots > 0) { scheduleDispatch() }
    }

    /// Aligns what an agent runs with what the coordinator believes: attempts
    /// it runs that are no longer current are cancelled there; attempts the
    /// coordinator assigned to it that it does not run go back to the queue.
    private func reconcile(agentID: String, reported: Set<AttemptRef>, peer: Data) async {
        for ref in reported {
            if let task = tasks[ref.taskID], task.state == .running, task.attempt == ref.attempt, task.agentID == agentID {
                agents[agentID]?.running.insert(ref)
                orphanedSince[ref.taskID] = nil  // adopted after a coordinator restart
            } else {
                send(.cancel(Cancel(ref: ref)), to: peer)
            }
        }
        let forgotten = tasks.values.filter {
            $0.state == .running && $0.agentID == agentID && !reported.contains(AttemptRef(taskID: $0.id, attempt: $0.attempt))
        }
        // The agent restarted without them: perhaps the task is what killed it.
        for task in forgotten {
            await loseAttempt(AttemptRef(taskID: task.id, attempt: task.attempt))
        }
    }

    /// Declares agents silent for longer than the lease lost; each attempt they
    /// ran spends a retry of its task (see `loseAttempt`).
    func expireLeases() async {
        let now = ContinuousClock.now
        let lost = agents.values.filter { now - $0.lastSeen > configuration.lease }
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
        for agent in lost {
            agents[agent.record.id] = nil
            agentIDsByPeer[agent.peer] = nil
            abandoned += agent.running
            logger.warning("agent lost", metadata: [
                "agent": "\(agent.record.id)", "silentSeconds": "\(Self.seconds(now - agent.lastSeen))",
                "requeued": "\(agent.running.count)",
            ])
        }
        for ref in abandoned { await loseAttempt(ref) }
        scheduleDispatch()
    }

}
