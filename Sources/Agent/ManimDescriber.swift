import FarmProtocol
import Foundation
import Synchronization

/// Answers `DescribeManim`: runs `manim_api.py` with the agent's Python (the farm's own helper, no user code)
/// under a time limit, on the calling thread (one of the agent's own; the pipe and the wait block).
enum ManimDescriber {
    static let timeout: Duration = .seconds(60)

    static func describe(_ request: DescribeManim, python: String) -> ManimDescription {
        guard let helper = Bundle.module.path(forResource: "manim_api", ofType: "py") else {
            return ManimDescription(id: request.id, error: "manim_api.py is missing from the agent's resources")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-I", helper]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            return ManimDescription(id: request.id, error: "\(python) cannot be started: \(error)")
        }
        let pid = process.processIdentifier
        let finished = DispatchSemaphore(value: 0)
        Thread {
            if finished.wait(timeout: .now() + .seconds(Int(timeout.components.seconds))) == .timedOut { kill(pid, SIGKILL) }
        }.start()
        // Both pipes drained at once: a chatty stderr must not stall the JSON on stdout.
        let stderrTail = Mutex<Data>(Data())
        let drained = DispatchSemaphore(value: 0)
        Thread {
            let tail = errors.fileHandleForReading.readDataToEndOfFile().suffix(2_000)
            stderrTail.withLock { $0 = Data(tail) }
            drained.signal()
        }.start()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        finished.signal()
        drained.wait()
        struct Listing: Decodable {
            var version: String
            var sections: [String: [String]]
        }
        guard process.terminationReason == .exit, process.terminationStatus == 0,
              let listing = try? JSONDecoder().decode(Listing.self, from: json) else {
            let why = String(decoding: stderrTail.withLock { $0 }, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " ")
            return ManimDescription(id: request.id, error: "manim_api.py failed (\(process.terminationStatus)): \(why.prefix(500))")
        }
        let answer = ManimDescription(id: request.id, manimVersion: String(listing.version.prefix(64)), sections: listing.sections)
        do {
            try answer.validate()
            return answer
        } catch {
            return ManimDescription(id: request.id, error: "the listing is out of the protocol's bounds: \(error)")
        }
    }
}
