import FarmProtocol
import Foundation

/// Manim's public API, listed by an agent (`DescribeManim`): script generation pins its system prompt to what the
/// agents render with. The coordinator runs no Manim; an agent's answer is bounded by the protocol's checks.
extension FarmEngine {
    struct PendingDescription {
        var peer: Data
        var continuation: CheckedContinuation<ManimDescription?, Never>?
        var answer: ManimDescription??
    }

    /// An agent's listing of its Manim, asking agents that list (one after another, waiting for one to connect)
    /// until `deadline`; the error says why there is none.
    func describeManim(within deadline: Duration) async -> Result<ManimDescription, DescribeFailure> {
        let until = ContinuousClock.now + deadline
        var tried: Set<Data> = []
        var problem = "no connected agent lists Manim's API"
        while ContinuousClock.now < until, !Task.isCancelled {
            guard let peer = describingAgent(avoiding: tried) else {
                // Every agent that lists was asked and none could: that is the answer. With none connected, wait for one.
                if !tried.isEmpty { break }
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            tried.insert(peer)
            let id = UUID().uuidString.lowercased()
            pendingDescriptions[id] = PendingDescription(peer: peer)
            send(.describeManim(DescribeManim(id: id)), peer)
            let answer = await withTaskGroup(of: ManimDescription?.self) { group in
                group.addTask { await self.awaitDescription(id) }
                group.addTask {
                    try? await Task.sleep(for: Self.describeTimeout)
                    return nil
                }
                let first = await group.next() ?? nil
                settleDescription(id, with: nil)
                group.cancelAll()
                return first
            }
            guard let answer else {
                problem = "an agent did not list Manim's API within \(Self.describeTimeout)"
                continue
            }
            if let error = answer.error {
                problem = "an agent could not list Manim's API: \(error)"
                continue
            }
            return .success(answer)
        }
        return .failure(DescribeFailure(description: problem))
    }

    struct DescribeFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Listing imports Manim and inspects every public name: seconds, not minutes.
    static let describeTimeout: Duration = .seconds(90)

    /// An agent's answer; only the agent asked may give it.
    func described(_ answer: ManimDescription, from peer: Data) {
        guard let pending = pendingDescriptions[answer.id], pending.peer == peer, pending.answer == nil,
              answer.error != nil || answer.sections != nil else {
            core.refusedReports += 1
            return
        }
        settleDescription(answer.id, with: answer)
    }

    func abandonDescriptions(of peer: Data) {
        for (id, pending) in pendingDescriptions where pending.peer == peer {
            settleDescription(id, with: nil)
        }
    }

    private func awaitDescription(_ id: String) async -> ManimDescription? {
        await withCheckedContinuation { continuation in
            guard let pending = pendingDescriptions[id], pending.answer == nil else {
                return continuation.resume(returning: pendingDescriptions.removeValue(forKey: id)?.answer ?? nil)
            }
            pendingDescriptions[id]?.continuation = continuation
        }
    }

    /// Ends a wait with `answer` (the first settlement wins), and forgets it once nobody waits.
    private func settleDescription(_ id: String, with answer: ManimDescription?) {
        guard var pending = pendingDescriptions[id] else { return }
        if pending.answer == nil { pending.answer = .some(answer) }
        if let continuation = pending.continuation {
            pendingDescriptions[id] = nil
            continuation.resume(returning: pending.answer ?? nil)
            return
        }
        pendingDescriptions[id] = pending
    }

    /// A connected agent that lists Manim's API and has not been tried, in the fleet's render environment if one is.
    private func describingAgent(avoiding tried: Set<Data>) -> Data? {
        let candidates = core.agents.values.filter { $0.disconnectedAt == nil && describingPeers.contains($0.peer) && !tried.contains($0.peer) }
        let fleet = core.fleetRenderIdentity
        return (candidates.first { $0.record.renderIdentity == fleet } ?? candidates.min { $0.running.count < $1.running.count })?.peer
    }
}
