import FarmStorage
import Foundation
import Logging

/// Persists the engine's state changes in the order they were made, retrying
/// through store outages (a PostgreSQL restart, a locked SQLite file) so the
/// coordinator keeps running and nothing decided is lost while the store is away.
///
/// Each change is a whole record, so replaying one after an outage is safe.
actor StoreWriter {
    /// One durable change.
    enum Change: Sendable {
        case video(VideoRecord)
        case task(TaskRecord)
        case attempt(TaskRecord, AttemptRecord)
        case agent(AgentRecord)
        /// A finished plan task and the render tasks it created, in one transaction.
        case planned(TaskRecord, AttemptRecord, [TaskRecord])
    }

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

    private func flush() async {
        var backoff: Duration = .milliseconds(50)
        var failingSince: ContinuousClock.Instant?
        while let (sequence, change) = pending.first {
            do {
                try await apply(change)
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
            pending.removeFirst()
            durableThrough = sequence
            for (id, waiter) in waiters where waiter.sequence <= sequence {
                waiters[id] = nil
                waiter.continuation.resume(returning: true)
            }
        }
        flushing = false
    }

    private func apply(_ change: Change) async throws {
        switch change {
        case .video(let video): try await store.update(video)
        case .task(let task): try await store.update(task)
        case .attempt(let task, let attempt): try await store.update(task, attempt: attempt)
        case .agent(let agent): try await store.save(agent)
        case .planned(let plan, let attempt, let tasks): try await store.commitPlan(plan, attempt: attempt, tasks: tasks)
        }
    }
}
