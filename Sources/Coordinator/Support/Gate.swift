import Synchronization

/// A one-way gate: closed until `open()`, then open for good. Waiters resume
/// when it opens; a wait with a deadline gives up without leaving anything behind.
final class Gate: Sendable {
    private struct State {
        var open = false
        var waiting: [Int: CheckedContinuation<Bool, Never>] = [:]
        var lastID = 0
    }

    private let state = Mutex(State())

    var isOpen: Bool { state.withLock(\.open) }

    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(returning: true) }
    }

    /// Waits until the gate opens; `false` if the wait was cancelled first.
    func wait() async -> Bool {
        let id = state.withLock { state in
            state.lastID += 1
            return state.lastID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let settled: Bool? = state.withLock { state in
                    if state.open { return true }
                    if Task.isCancelled { return false }
                    state.waiting[id] = continuation
                    return nil
                }
                if let settled { continuation.resume(returning: settled) }
            }
        } onCancel: {
            state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(returning: false)
        }
    }

    /// Waits until the gate opens or `timeout` passes; whether it opened.
    func wait(timeout: Duration) async -> Bool {
        if isOpen { return true }
        return await withTaskGroup(of: Bool?.self) { group in
            group.addTask { await self.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? isOpen
        }
    }
}
