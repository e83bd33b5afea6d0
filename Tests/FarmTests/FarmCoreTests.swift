@_spi(Benchmark) @testable import Coordinator
import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Testing

/// The state machine one event at a time: what it decides, and in which order.
@Suite struct FarmCoreTests {
    static func index(of effects: [FarmEffect], _ matches: (FarmEffect) -> Bool) -> Int? {
        effects.firstIndex(where: matches)
    }

    static func isAttemptPersist(_ effect: FarmEffect, _ ref: AttemptRef, state: TaskState) -> Bool {
        if case .persist(.attempt(let task, let attempt)) = effect {
            return task.id == ref.taskID && attempt.attempt == ref.attempt && task.state == state
        }
        return false
    }

    /// One agent, one one-scene video, dispatched: returns the simulation and the assignment's ref.
    static func assigned() -> (FarmSimulation, AttemptRef) {
        var sim = FarmSimulation()
        sim.join("a0")
        sim.submit(scenes: 1, split: false)
        sim.send(.dispatchRound)
        sim.flush()
        let ref = sim.agents["a0"]!.running.first!
        return (sim, ref)
    }

    @Test func anAssignmentIsSentOnlyAfterItsFreshAttemptIsPersisted() {
        var sim = FarmSimulation()
        sim.join("a0")
        sim.submit(scenes: 1, split: false)
        let effects = sim.core.handle(.dispatchRound, now: sim.now)
        let ref = AttemptRef(taskID: "v1-0", attempt: 1)
        let persisted = Self.index(of: effects) { Self.isAttemptPersist($0, ref, state: .running) }
        let sent = Self.index(of: effects) { if case .assign(let assign, _) = $0 { assign.ref == ref } else { false } }
        #expect(persisted != nil && sent != nil && persisted! < sent!)
        #expect(effects[sent!].needsDurability)
        #expect(sim.core.tasks["v1-0"]?.state == .running)
        #expect(sim.core.agents["a0"]?.freeSlots == 0)
    }

    @Test func aResultIsAcknowledgedOnlyOnceTheTaskIsDurablyDone() {
        var (sim, ref) = Self.assigned()
        let effects = sim.core.handle(.resultStaged(FarmSimulation.result(ref), peer: Data("a0".utf8)), now: sim.now)
        let persisted = Self.index(of: effects) { Self.isAttemptPersist($0, ref, state: .done) }
        let ack = Self.index(of: effects) {
            if case .sendWhenDurable(.resultAck(let ack), _) = $0 { ack.ref == ref && ack.accepted } else { false }
        }
        #expect(persisted != nil && ack != nil && persisted! < ack!)
        #expect(!effects.contains { if case .send(.resultAck, _) = $0 { true } else { false } }, "never acknowledged before durable")
        // The last scene done: assembly starts, after the video is persisted as assembling.
        let assembling = Self.index(of: effects) { if case .persist(.video(let video)) = $0 { video.state == .assembling } else { false } }
        let assemble = Self.index(of: effects) { if case .assemble = $0 { true } else { false } }
        #expect(assembling != nil && assemble != nil && assembling! < assemble!)
    }

    @Test func aLateResultFromALostAgentIsRefusedAndCostsTheTaskOneRetry() {
        var (sim, ref) = Self.assigned()
        sim.advance(sim.configuration.lease + .seconds(1))  // a0 silent: lost
        #expect(sim.core.agents["a0"] == nil)
        #expect(sim.core.tasks[ref.taskID]?.state == .pending)
        #expect(sim.core.tasks[ref.taskID]?.failures == 1)
        #expect(sim.core.tasks[ref.taskID]?.error?.reason == .lostAgent)
        let refused = sim.core.refusedReports
        let effects = sim.core.handle(.resultStaged(FarmSimulation.result(ref), peer: Data("a0".utf8)), now: sim.now)
        #expect(sim.core.refusedReports == refused + 1)
        #expect(effects.contains { if case .send(.resultAck(let ack), _) = $0 { !ack.accepted } else { false } })
        #expect(sim.core.tasks[ref.taskID]?.state == .pending)
    }

    @Test func aVideoNoConnectedAgentMayTakeFailsWithThatReasonAfterABoundedWait() {
        var configuration = EngineConfiguration(dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("farm-sim"))
        configuration.unplaceableWait = .seconds(10)
        var sim = FarmSimulation(configuration: configuration)
        // No agent at all: it waits (agents may be starting).
        sim.submit(scenes: 2, split: false, latex: true)
        for _ in 0..<15 { sim.advance(.seconds(1)) }
        #expect(sim.core.videos["v1"]?.state == .queued)
        // An agent without LaTeX joins: the LaTeX scene has nobody; the other scene renders, and then the video fails.
        sim.join("plain", hasLaTeX: false)
        sim.send(.dispatchRound)
        sim.flush()
        for step in 0..<12 {
            sim.advance(.seconds(1))
            sim.beat("plain")
            if let ref = sim.agents["plain"]?.running.first { sim.finish("plain", ref) }
            if step < 8 { #expect(sim.core.videos["v1"] != nil, "not before the wait is over (second \(step + 1))") }
        }
        sim.flush()
        let failed = sim.durable.videos["v1"]
        #expect(failed?.state == .failed)
        #expect(failed?.error?.contains("scene S0 uses LaTeX and none of the 1 connected agents (plain) has LaTeX") == true,
                "\(failed?.error ?? "")")
    }

    /// Ranges of one scene join seamlessly only when one render environment drew them all, and a render is cached
    /// under its environment: a planned video's render tasks go only to agents with its planner's environment, and
    /// when none is left connected the video fails with that reason after the bounded wait.
    @Test func aPlannedVideoRendersOnlyInItsPlannersEnvironment() {
        var configuration = EngineConfiguration(dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("farm-sim"))
        configuration.unplaceableWait = .seconds(10)
        var sim = FarmSimulation(configuration: configuration)
        sim.join("a", environment: "aaaaaaaaaaaaaaaa")
        sim.join("b", environment: "bbbbbbbbbbbbbbbb")
        sim.submit(scenes: 3, split: true)
        sim.send(.dispatchRound)
        sim.flush()
        let planner = try! #require(["a", "b"].first { sim.agents[$0]!.running.contains { $0.taskID == "v1-plan" } })
        let other = planner == "a" ? "b" : "a"
        sim.finish(planner, AttemptRef(taskID: "v1-plan", attempt: 1))
        sim.flush()
        let renders = sim.core.renderTasks(of: "v1")
        #expect(renders.count == 3)
        #expect(renders.allSatisfy { $0.work.environment == sim.agents[planner]!.identity }, "\(renders.map(\.work.environment))")
        // Both agents are free, but only the planner's environment may render: one task at a time, on the planner.
        sim.send(.dispatchRound)
        sim.flush()
        #expect(sim.agents[planner]!.running.count == 1)
        #expect(sim.agents[other]!.running.isEmpty, "an agent of another environment takes none of the video's tasks")
        sim.finish(planner, sim.agents[planner]!.running.first!)
        sim.flush()
        // The planner's environment leaves: the rest of the video has nobody, and fails saying why.
        sim.kill(planner)
        for _ in 0..<12 {
            sim.advance(.seconds(1))
            sim.beat(other)
        }
        sim.flush()
        #expect(sim.agents[other]!.running.isEmpty)
        let failed = sim.durable.videos["v1"]
        #expect(failed?.state == .failed)
        #expect(failed?.error?.contains("was planned in the render environment \(sim.agents[planner]!.identity)") == true,
                "\(failed?.error ?? "")")
        #expect(failed?.error?.contains(sim.agents[other]!.identity) == true, "the reason names the environments there are")
    }

    @Test func aVideoWhoseOnlyAgentIsBlocklistedFailsInsteadOfWaitingForEver() {
        var configuration = EngineConfiguration(dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("farm-sim"))
        configuration.unplaceableWait = .seconds(5)
        configuration.maxAttempts = 10
        var sim = FarmSimulation(configuration: configuration)
        sim.join("a0")
        sim.submit(scenes: 1, split: false)
        for _ in 0..<sim.configuration.blocklistAfter {
            sim.send(.dispatchRound)
            sim.flush()
            let ref = sim.agents["a0"]!.running.first!
            sim.finish("a0", ref, failing: .crashed)
            sim.now += sim.configuration.retryBackoff * 8
            sim.beat("a0")
        }
        for _ in 0..<7 {
            sim.advance(.seconds(1))
            sim.beat("a0")
        }
        sim.flush()
        let failed = sim.durable.videos["v1"]
        #expect(failed?.state == .failed)
        #expect(failed?.error?.contains("every connected agent (a0) failed this video's tasks 3 times") == true, "\(failed?.error ?? "")")
    }

    @Test func aHeartbeatWithinTheLeaseKeepsTheAgentsWork() {
        var (sim, ref) = Self.assigned()
        sim.advance(.seconds(4))
        sim.beat("a0")
        sim.advance(.seconds(4))
        #expect(sim.core.agents["a0"] != nil)
        #expect(sim.core.tasks[ref.taskID]?.state == .running)
        #expect(sim.core.tasks[ref.taskID]?.failures == 0)
    }

    @Test func aScriptErrorFailsTheVideoAtOnceAndAnAgentErrorIsRetriedElsewhereAfterABackoff() throws {
        var sim = FarmSimulation()
        sim.join("a0")
        sim.join("a1", slots: 2)
        sim.submit(scenes: 2, split: false)
        sim.send(.dispatchRound)
        sim.flush()
        let onA0 = try #require(sim.agents["a0"]!.running.first)
        sim.finish("a0", onA0, failing: .crashed)
        #expect(sim.core.tasks[onA0.taskID]?.state == .pending)
        #expect(sim.core.tasks[onA0.taskID]?.failures == 1)
        #expect(sim.core.retryNotBefore[onA0.taskID] != nil)
        sim.send(.dispatchRound)
        #expect(sim.core.tasks[onA0.taskID]?.state == .pending, "not before its backoff")
        sim.now += sim.configuration.retryBackoff
        sim.send(.dispatchRound)
        sim.flush()
        #expect(sim.core.tasks[onA0.taskID]?.state == .running)
        #expect(sim.core.tasks[onA0.taskID]?.attempt == 2)
        #expect(sim.core.tasks[onA0.taskID]?.agentID == "a1", "retried on another agent than the one it failed on")
        let other = try #require(sim.agents["a1"]!.running.first { $0.taskID != onA0.taskID })
        sim.finish("a1", other, failing: .scriptRaised)
        sim.flush()
        #expect(sim.durable.videos["v1"]?.state == .failed)
        #expect(sim.durable.videos["v1"]?.error?.contains("raised an error") == true)
        #expect(sim.durable.tasks[other.taskID]?.attempt == 1, "a script error is not retried")
        #expect(sim.core.videos["v1"] == nil)
        #expect(sim.agents.values.allSatisfy { $0.running.isEmpty }, "the other attempt was cancelled on its agent")
    }

    @Test func aHandBackForLackOfASlotCostsNoRetryAndPausesTheAgent() {
        var (sim, ref) = Self.assigned()
        sim.finish("a0", ref, failing: .noFreeSlot)
        #expect(sim.core.tasks[ref.taskID]?.state == .pending)
        #expect(sim.core.tasks[ref.taskID]?.failures == 0)
        #expect(sim.core.agents["a0"]?.full == true)
        sim.send(.dispatchRound)
        #expect(sim.core.tasks[ref.taskID]?.state == .pending, "no work for a full agent until it reports a free slot")
        sim.beat("a0")
        sim.send(.dispatchRound)
        #expect(sim.core.tasks[ref.taskID]?.state == .running)
    }

    @Test func cancellingStopsTheAgentsRenderAndEndsTheVideoOnce() {
        var (sim, _) = Self.assigned()
        sim.send(.cancelRequested(videoID: "v1"))
        sim.flush()
        #expect(sim.agents["a0"]!.running.isEmpty)
        #expect(sim.durable.videos["v1"]?.state == .cancelled)
        #expect(sim.core.videos["v1"] == nil)
        sim.send(.cancelRequested(videoID: "v1"))
        sim.flush()
        #expect(sim.violations.isEmpty, "\(sim.violations)")
    }

    @Test func aPlanBecomesRenderTasksThatWaitForTheirCacheLookup() throws {
        var sim = FarmSimulation(configuration: {
            var configuration = EngineConfiguration(dataDirectory: FileManager.default.temporaryDirectory)
            configuration.renderCache = true
            return configuration
        }())
        sim.join("a0", slots: 4)
        sim.submit(scenes: 2, split: true)
        sim.send(.dispatchRound)
        sim.flush()
        let plan = try #require(sim.agents["a0"]!.running.first)
        #expect(plan.taskID == "v1-plan")
        sim.finish("a0", plan)
        #expect(sim.core.renderTasks(of: "v1").count == 2)
        #expect(sim.core.cacheLookups.isEmpty, "a video submitted with cache off looks nothing up")
    }

    @Test func aRestartedCoordinatorAdoptsAnAttemptWhoseAgentComesBackAndLosesOneWhoseAgentDoesNot() {
        var sim = FarmSimulation()
        sim.join("a0")
        sim.join("a1")
        sim.submit(scenes: 2, split: false)
        sim.send(.dispatchRound)
        sim.flush()
        let onA0 = sim.agents["a0"]!.running.first!, onA1 = sim.agents["a1"]!.running.first!
        sim.restart()
        #expect(sim.core.tasks[onA0.taskID]?.state == .running)
        sim.join("a0")  // comes back still rendering its attempt
        sim.kill("a1")
        sim.advance(.seconds(3))
        sim.beat("a0")
        sim.advance(.seconds(3))
        #expect(sim.core.tasks[onA0.taskID]?.state == .running)
        #expect(sim.core.tasks[onA0.taskID]?.attempt == onA0.attempt)
        #expect(sim.core.tasks[onA1.taskID]?.state == .pending)
        #expect(sim.core.tasks[onA1.taskID]?.failures == 1)
        #expect(sim.violations.isEmpty, "\(sim.violations)")
    }

    @Test func anAgentWhoseConnectionClosesWhileTalkingIsLostWithinAGraceUnlessItSpeaksAgain() {
        var (sim, ref) = Self.assigned()
        let peer = Data("a0".utf8)
        sim.send(.disconnected(peer: peer))
        sim.advance(.milliseconds(300))
        #expect(sim.core.tasks[ref.taskID]?.state == .running, "within the grace")
        sim.advance(.milliseconds(500))
        #expect(sim.core.agents["a0"] == nil)
        #expect(sim.core.tasks[ref.taskID]?.state == .pending, "requeued long before the lease")
        #expect(sim.core.tasks[ref.taskID]?.error?.reason == .lostAgent)

        // Reconnected at once: it keeps its work.
        var (again, kept) = Self.assigned()
        again.send(.disconnected(peer: peer))
        again.send(.progress(RenderProgress(ref: kept, framesDone: 3), peer: peer))
        again.advance(.seconds(1))
        #expect(again.core.tasks[kept.taskID]?.state == .running)
        #expect(again.core.agents["a0"]?.disconnectedAt == nil)
    }

    @Test func aConnectionThatClosesAfterALongSilenceIsLeftToTheLease() {
        var (sim, ref) = Self.assigned()
        sim.now += .seconds(4)  // silent, as behind a network blip
        sim.send(.disconnected(peer: Data("a0".utf8)))
        sim.advance(.milliseconds(700))
        #expect(sim.core.tasks[ref.taskID]?.state == .running, "a blip shorter than the lease costs nothing")
        sim.beat("a0")
        sim.advance(.seconds(4))
        #expect(sim.core.tasks[ref.taskID]?.state == .running)
    }

    @Test func aVideoPlannedBeyondItsTeamsRenderQuotaFailsBeforeAnyRenderStarts() throws {
        var sim = FarmSimulation()
        sim.join("a0")
        sim.send(.renderBudgets(["t1": RenderBudget(usedSeconds: 100, limitSeconds: 100.5)]))
        sim.submit(scenes: 2, split: true, team: "t1")
        sim.send(.dispatchRound)
        sim.flush()
        let plan = try #require(sim.agents["a0"]!.running.first)
        #expect(plan.taskID == "v1-plan")
        sim.finish("a0", plan)
        sim.send(.dispatchRound)
        sim.flush()
        let refused = sim.durable.videos["v1"]
        #expect(refused?.state == .failed)
        #expect(refused?.error?.contains("render-seconds") == true && refused?.error?.contains("used 100") == true, "\(refused?.error ?? "")")
        #expect(sim.agents["a0"]!.running.isEmpty, "no render of it started")
        #expect((sim.metered["t1"] ?? -1) >= 0, "the plan's agent time was metered to its team")

        // Another team has no quota here, and the same team fits once its budget does.
        sim.submit(scenes: 1, split: true, team: "t2")
        sim.send(.renderBudgets(["t1": RenderBudget(usedSeconds: 0, limitSeconds: 10_000)]))
        sim.submit(scenes: 1, split: true, team: "t1")
        for _ in 0..<6 {
            sim.send(.dispatchRound)
            sim.flush()
            for ref in sim.agents["a0"]!.running { sim.finish("a0", ref) }
            sim.flush()
        }
        #expect(sim.durable.videos["v2"]?.state != .failed && sim.durable.videos["v3"]?.state != .failed)
        #expect(sim.durable.tasks.values.contains { $0.videoID == "v3" && $0.work.kind == .render })
    }

    @Test func aDrainedAgentFinishesItsWorkGetsNoMoreAndStaysDrainedWhenItReconnects() {
        var sim = FarmSimulation()
        sim.join("a0")
        sim.send(.drainRequested(agentID: "a0", drain: true))
        sim.submit(scenes: 1, split: false)
        sim.send(.dispatchRound)
        sim.flush()
        #expect(sim.agents["a0"]!.running.isEmpty, "no work for a drained agent")
        sim.join("a0")  // it reconnects
        sim.send(.dispatchRound)
        sim.flush()
        #expect(sim.agents["a0"]!.running.isEmpty, "still drained after reconnecting")
        sim.send(.drainRequested(agentID: "a0", drain: false))
        sim.send(.dispatchRound)
        sim.flush()
        #expect(sim.agents["a0"]!.running.count == 1, "undrained, it works again")
    }
}
