import FarmStorage
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Persists the engine's state changes in the order they were made, retrying
/// through store outages (a PostgreSQL restart, a locked SQLite file) so the
/// coordinator keeps running and nothing decided is lost while the store is away.
///
/// A `Service`: its `run()` writes while the coordinator runs and, at shutdown,
/// writes what is still queued before it returns (the store's client stops after it).
/// Each change is a whole record, so replaying one after an outage is safe.
final class StoreWriter: Service, Sendable {
    typealias Change = StoreChange

    /// Changes written together, in one transaction, when that many are waiting.
    static let batchLimit = 256
    /// How long shutdown keeps retrying an unavailable store before giving up on what is queued.
    static let shutdownPatience: Duration = .seconds(10)

    private let store: any FarmStore
    private let logger: Logger
    /// Changes not yet durable, oldest first. Behind a lock so that `enqueue` is synchronous:
    /// the engine queues all the changes of one decision without a suspension between them,
    /// so two decisions' changes never interleave.
    private let queue = Mutex(Queue())
    /// Callers waiting for their change to be durable. Behind a lock, not the actor, so a
    /// cancelled wait (a deadline passed) can end synchronously in its cancellation handler.
    private let waiters = Mutex(Waiters())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(store: any FarmStore, logger: Logger) {
        self.store = store
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Changes not yet durable.
    var backlog: Int { queue.withLock { $0.pending.count } }

    /// Queues `change` behind every earlier one; returns its sequence number.
    @discardableResult
    func enqueue(_ change: Change) -> Int {
        let sequence = queue.withLock { $0.append(change) }
        wake.yield()
        return sequence
    }

    /// Waits until every change queued so far is durable (a read after the writes it should see);
    /// `false` if that takes longer than `timeout`.
    func waitForQueued(timeout: Duration) async -> Bool {
        guard let last = queue.withLock({ $0.lastSequence }) else { return true }
        return await waitDurable(last, timeout: timeout)
    }

    /// Queues `change` and returns once it (and everything before it) is durable.
    func persist(_ change: Change) async {
        _ = await waitDurable(enqueue(change), timeout: nil)
    }

    /// Waits until change `sequence` is durable; `false` if it is not within `timeout`
    /// (it stays queued and lands later, after everything queued before it) or the writer stopped.
    func waitDurable(_ sequence: Int, timeout: Duration?) async -> Bool {
        guard let timeout else { return await wait(for: sequence) }
        // The deadline is a child of this call: nothing outlives the wait.
        return await withTaskGroup(of: Bool?.self) { group in
            group.addTask { await self.wait(for: sequence) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? false
        }
    }

    private func wait(for sequence: Int) async -> Bool {
        let id = waiters.withLock { $0.nextID() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let settled: Bool? = waiters.withLock { table in
                    if table.durableThrough >= sequence { return true }
                    if table.stopped || Task.isCancelled { return false }
                    table.waiting[id] = (sequence, continuation)
                    return nil
                }
                if let settled { continuation.resume(returning: settled) }
            }
        } onCancel: {
            waiters.withLock { $0.waiting.removeValue(forKey: id) }?.continuation.resume(returning: false)
        }
    }

    func run() async {
        await withGracefulShutdownHandler {
            for await _ in wakeups { await flush(shuttingDown: false) }
        } onGracefulShutdown: { [wake] in
            wake.finish()
        }
        await flush(shuttingDown: true)
        if backlog > 0 {
            logger.critical("store unavailable at shutdown: changes not written", metadata: ["backlog": "\(backlog)"])
        }
        let abandoned = waiters.withLock { table in
            table.stopped = true
            defer { table.waiting = [:] }
            return Array(table.waiting.values)
        }
        for waiter in abandoned { waiter.continuation.resume(returning: false) }
    }

    /// Writes everything pending, oldest first, in batches of one transaction each:
    /// a burst (a fleet's worth of assignments) costs one commit, not hundreds.
    private func flush(shuttingDown: Bool) async {
        var backoff: Duration = .milliseconds(50)
        var failingSince: ContinuousClock.Instant?
        while true {
            let batch = queue.withLock { $0.pending.prefix(Self.batchLimit) }
            guard let sequence = batch.last?.sequence else { return }
            do {
                try await store.apply(batch.map(\.change))
            } catch {
                if failingSince == nil {
                    failingSince = .now
                    logger.error("store unavailable; holding changes and retrying", metadata: ["error": "\(error)"])
                }
                if Task.isCancelled { return }  // a hard stop: what is queued stays unwritten
                if shuttingDown, let since = failingSince, ContinuousClock.now - since > Self.shutdownPatience { return }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
                continue
            }
            if let since = failingSince {
                logger.notice("store back; writing held changes", metadata: [
                    "outageSeconds": "\(ContinuousClock.now - since)", "backlog": "\(backlog)",
                ])
                failingSince = nil
                backoff = .milliseconds(50)
            }
            queue.withLock { $0.pending.removeFirst(batch.count) }
            let satisfied = waiters.withLock { $0.markDurable(through: sequence) }
            for continuation in satisfied { continuation.resume(returning: true) }
        }
    }
}

/// Changes waiting for the store, numbered in the order they were queued.
private struct Queue {
    var pending: [(sequence: Int, change: StoreChange)] = []
    private var nextSequence = 0

    /// The sequence number of the last change queued, if any was.
    var lastSequence: Int? { nextSequence == 0 ? nil : nextSequence - 1 }

    mutating func append(_ change: StoreChange) -> Int {
        defer { nextSequence += 1 }
        pending.append((nextSequence, change))
        return nextSequence
    }
}

/// Who waits for which change, and how far the store has caught up.
private struct Waiters {
    var durableThrough = -1
    var waiting: [Int: (sequence: Int, continuation: CheckedContinuation<Bool, Never>)] = [:]
    var stopped = false
    private var lastID = 0

    mutating func nextID() -> Int {
        lastID += 1
        return lastID
    }

    /// Notes that every change up to `sequence` is durable; returns the waits that ends.
    mutating func markDurable(through sequence: Int) -> [CheckedContinuation<Bool, Never>] {
        durableThrough = sequence
        let done = waiting.filter { $0.value.sequence <= sequence }
        for id in done.keys { waiting[id] = nil }
        return done.values.map(\.continuation)
    }
}
