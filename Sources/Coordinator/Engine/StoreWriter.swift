import FarmModel
import FarmStorage
import Foundation
import Logging

/// Persists the engine's state changes in the order they were made, retrying
/// through store outages (a PostgreSQL restart, a locked SQLite file) so the
/// coordinator keeps running and nothing decided is lost while the store is away.
///
/// Each change is a whole record, so replaying one after an outage is safe.
actor StoreWriter {
    typealias Change = StoreChange

    /// Changes written together, in one transaction, when that many are waiting.
    static let batchLimit = 256

    private let store: any FarmStore
    private let logger: Logger
    private var pending: [(sequence: Int, change: Change)] = []
    private var nextSequence = 0
    private var durableThrough = -1
    private var waiters: [UUID: (sequence: Int, continuation: CheckedContinuation<Bool, Never>)] = [:]
    private var flushing = false

    init(store: any FarmStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Changes not yet durable.
    var backlog: Int { pending.count }

    /// Queues `change` behind every earlier one; returns its sequence number.
    @discardableResult
    func enqueue(_ change: Change) -> Int {
        let sequence = nextSequence
        nextSequence += 1
        pending.append((sequence, change))
        if !flushing {
            flushing = true
            Task { await self.flush() }
        }
        return sequence
    }

    /// Waits until change `sequence` is durable; `false` if it is not within `timeout`
    /// (it stays queued and lands later, after everything queued before it).
    func waitDurable(_ sequence: Int, timeout: Duration) async -> Bool {
        if durableThrough >= sequence { return true }
        let id = UUID()
        return await withCheckedContinuation { continuation in
            waiters[id] = (sequence, continuation)
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(id)
            }
        }
    }

    private func expire(_ id: UUID) {
        waiters.removeValue(forKey: id)?.continuation.resume(returning: false)
    }

    /// Writes everything pending, oldest first, in batches of one transaction each:
    /// a burst (a fleet's worth of assignments) costs one commit, not hundreds.
    private func flush() async {
        var backoff: Duration = .milliseconds(50)
        var failingSince: ContinuousClock.Instant?
        while !pending.isEmpty {
            let batch = pending.prefix(Self.batchLimit)
            do {
                try await store.apply(batch.map(\.change))
            } catch {
                if failingSince == nil {
                    failingSince = .now
                    logger.error("store unavailable; holding changes and retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
                continue
            }
            if let since = failingSince {
                logger.notice("store back; writing held changes", metadata: [
                    "outageSeconds": "\(ContinuousClock.now - since)", "backlog": "\(pending.count)",
                ])
                failingSince = nil
                backoff = .milliseconds(50)
            }
            let sequence = batch.last!.sequence
            pending.removeFirst(batch.count)
            durableThrough = sequence
            for (id, waiter) in waiters where waiter.sequence <= sequence {
                waiters[id] = nil
                waiter.continuation.resume(returning: true)
            }
        }
        flushing = false
    }
}
