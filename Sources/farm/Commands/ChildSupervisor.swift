import Foundation

/// The processes `farm up` runs: started in order, watched, and stopped in
/// reverse order (agents drain before the coordinator they report to goes away).
final class ChildSupervisor: @unchecked Sendable {
    enum Ending {
        case signal(Int32)
        case childExited(name: String, status: Int32)
    }

    // Guarded by `lock`: the termination handlers run on Foundation's threads.
    private let lock = NSLock()
    private var children: [(name: String, process: Process)] = []
    private var stopping = false
    private let events: AsyncStream<Ending>
    private let emit: AsyncStream<Ending>.Continuation
    /// Signal sources live on a queue of their own, not on the shared global queues.
    private let signalQueue = DispatchQueue(label: "farm.up.signals")
    private var signalSources: [any DispatchSourceSignal] = []

    init() {
        (events, emit) = AsyncStream.makeStream(of: Ending.self)
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
            source.setEventHandler { [emit] in emit.yield(.signal(signalNumber)) }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Starts `executable`; its output goes to ours.
    func start(name: String, executable: URL, arguments: [String]) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.terminationHandler = { [weak self] process in
            guard let self else { return }
            let expected = self.lock.withLock { self.stopping }
            if !expected { self.emit.yield(.childExited(name: name, status: process.terminationStatus)) }
        }
        try process.run()
        lock.withLock { children.append((name, process)) }
    }

    /// Waits until a signal asks the farm to stop or a child dies on its own.
    func runUntilSignalOrExit() async -> Ending {
        for await ending in events { return ending }
        return .signal(SIGTERM)
    }

    /// Polls for `file` while the children live; its contents, or `nil` if a child died or time ran out.
    func waitForFile(_ file: URL, timeout: Duration) async -> Data? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let data = try? Data(contentsOf: file), !data.isEmpty { return data }
            let alive = lock.withLock { children.allSatisfy(\.process.isRunning) }
            if !alive { return nil }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// Stops the agents together, then the coordinator (the first child): SIGTERM,
    /// then SIGKILL for one that outlives its grace.
    func stopAll(grace: Duration = .seconds(20)) async {
        let all = lock.withLock {
            stopping = true
            return children
        }
        guard let first = all.first else { return }
        await stop(Array(all.dropFirst()), grace: grace)
        await stop([first], grace: grace)
    }

    private func stop(_ group: [(name: String, process: Process)], grace: Duration) async {
        for (_, process) in group where process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + grace
        while group.contains(where: \.process.isRunning) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for (name, process) in group where process.isRunning {
            FileHandle.standardError.write(Data("farm up: \(name) did not stop within \(grace); killing it\n".utf8))
            kill(process.processIdentifier, SIGKILL)
        }
    }
}
