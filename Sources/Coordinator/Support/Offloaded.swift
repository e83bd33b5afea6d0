import Foundation

/// Why `withDeadline` gave up.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var limit: Duration
    var description: String { "no answer within \(limit)" }
}

/// Runs `work`, cancelling it and throwing `DeadlineExceeded` if it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw DeadlineExceeded(limit: limit)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Runs blocking work (file I/O, waiting on a subprocess) on a thread of its
/// own, so it never occupies one of Swift's cooperative threads. (On Linux,
/// Dispatch's global queues share their threads with the cooperative pool: a
/// few blocking jobs there stall every task, the HTTP API's included.)
func offloaded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.name = "offloaded"
        thread.start()
    }
}

/// Runs blocking work on `queue`, a serial queue (whose threads are not the
/// cooperative pool's), after the work already queued there.
func offloaded<T: Sendable>(on queue: DispatchQueue, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        queue.async {
            continuation.resume(with: Result { try work() })
        }
    }
}
