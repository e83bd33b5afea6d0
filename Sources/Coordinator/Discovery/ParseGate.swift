/// Admits at most `slots` parses at once and queues at most `queueLimit` more.
actor ParseGate {
    private let slots: Int
    private let queueLimit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(slots: Int, queueLimit: Int) {
        self.slots = max(slots, 1)
        self.queueLimit = queueLimit
    }

    /// Waits for a slot; `false` at once if the queue is full.
    func enter() async -> Bool {
        if running < slots {
            running += 1
            return true
        }
        guard waiting.count < queueLimit else { return false }
        await withCheckedContinuation { waiting.append($0) }
        return true  // the slot was handed over by leave()
    }

    func leave() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
