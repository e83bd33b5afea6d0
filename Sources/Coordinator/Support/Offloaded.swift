import Foundation

/// Runs blocking work (file I/O, waiting on a subprocess) on a Dispatch
/// thread, so it never occupies one of Swift's cooperative threads.
func offloaded<T: Sendable>(on queue: DispatchQueue = .global(), _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        queue.async {
            continuation.resume(with: Result { try work() })
        }
    }
}
