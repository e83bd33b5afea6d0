@_spi(Benchmark) @testable import Coordinator
import FarmModel
import FarmProtocol
import Foundation
import PropertyBased
import Testing

/// Random sequences of events against the state machine: agents joining, dying and
/// coming back, results arriving late or twice, leases expiring, the coordinator
/// restarting from the store at any point, cancels. After every step the
/// simulation checks its invariants; at the end every video must have ended.
@Suite struct FarmCorePropertyTests {
    static let failures: [FailureReason] = [.crashed, .scriptRaised, .noFreeSlot, .handedBack, .killed, .outOfMemory, .noProgress]

    /// Runs one program: each number is a step (its remainder picks the kind, the rest its argument).
    static func run(_ program: [Int]) -> FarmSimulation {
        var sim = FarmSimulation()
        for step in program {
            let (kind, arg) = (step % 15, step / 15)
            let agent = "a\(arg % 3)"
            switch kind {
            case 0: sim.submit(scenes: 1 + arg % 3, split: arg % 2 == 0, latex: arg % 5 == 0)
            case 1: sim.join(agent, slots: 1 + arg % 2, hasLaTeX: arg % 4 != 0)
            case 2: beatOrRejoin(&sim, agent)
            case 3:
                if let ref = sim.agents[agent]?.running.sorted(by: Self.order).first { sim.finish(agent, ref) }
            case 4:
                if let ref = sim.agents[agent]?.running.sorted(by: Self.order).first {
                    sim.finish(agent, ref, failing: failures[arg % failures.count])
                }
            case 5:
                let delivered = sim.deliveredAssigns.sorted(by: Self.order)
                if !delivered.isEmpty { sim.resend(agent, delivered[arg % delivered.count]) }
            case 6: sim.kill(agent)
            case 7:
                for id in sim.agents.keys.sorted() { beatOrRejoin(&sim, id) }
                sim.advance(.milliseconds(500))
            case 8: sim.advance(sim.configuration.lease + .seconds(1))  // a partition: nobody beats
            case 9: sim.send(.dispatchRound)
            case 10: sim.flush()
            case 11: sim.answerOne()
            case 12: if sim.videoCount > 0 { sim.send(.cancelRequested(videoID: "v\(1 + arg % sim.videoCount)")) }
            case 13: if arg % 3 == 0 { sim.restart() } else { sim.flush() }
            default: sim.giveUpOnAssignments()
            }
        }
        drain(&sim)
        return sim
    }

    static func order(_ a: AttemptRef, _ b: AttemptRef) -> Bool { (a.taskID, a.attempt) < (b.taskID, b.attempt) }

    static func beatOrRejoin(_ sim: inout FarmSimulation, _ id: String) {
        guard let agent = sim.agents[id], agent.alive else { return }
        // An agent the coordinator does not know (it restarted, or the lease expired) registers again.
        if sim.core.agents[id] == nil { sim.join(id) } else { sim.beat(id) }
    }

    /// A healthy agent joins and everything runs to its end.
    static func drain(_ sim: inout FarmSimulation) {
        sim.join("healthy", slots: 4, hasLaTeX: true)
        for _ in 0..<400 where !sim.unendedVideos.isEmpty {
            sim.flush()
            while !sim.answers.isEmpty { sim.answerOne() }
            sim.send(.dispatchRound)
            sim.flush()
            for id in sim.agents.keys.sorted() where sim.agents[id]!.alive {
                for ref in sim.agents[id]!.running.sorted(by: order) { sim.finish(id, ref) }
            }
            sim.flush()
            for id in sim.agents.keys.sorted() { beatOrRejoin(&sim, id) }
            sim.advance(.milliseconds(500))
        }
    }

    @Test func randomHistoriesKeepTheInvariantsAndEveryVideoEndsOnce() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...2_999).array(of: 10...160)) { program in
            let sim = Self.run(program)
            let violations = Array(sim.violations.prefix(5))
            #expect(violations.isEmpty)
            #expect(sim.unendedVideos.isEmpty, "never ended: \(sim.unendedVideos)")
        }
    }

    /// The checks themselves can fail: a runner that sends an assignment before its
    /// record is durable reuses attempt numbers after a restart, and the simulation says so.
    @Test func theSimulationCatchesAnAssignmentSentBeforeItIsDurable() {
        var sim = FarmSimulation()
        sim.join("a0")
        sim.submit(scenes: 1, split: false)
        sim.send(.dispatchRound)
        // Deliver the assignment without flushing: what a runner that ignored durability would do.
        for (_, effect) in sim.outbox {
            if case .assign(let assign, let peer) = effect { sim.deliverForTest(.assign(assign), to: peer) }
        }
        sim.outbox = []
        sim.restart()
        sim.join("a1")
        sim.send(.dispatchRound)
        sim.flush()
        #expect(sim.violations.contains { $0.contains("assigned twice") }, "\(sim.violations)")
    }
}
