import Foundation
import Synchronization

/// Keeps the last bytes a child wrote to stderr, for failure reports, and
/// copies everything to a log file.
final class LogTail: Sendable {
    private let buffer = Mutex(Data())
    private let limit: Int

    init(limit: Int = 16 * 1024) {
        self.limit = limit
    }

    /// Reads `fd` until end of file on a new thread, appending to `logFile`.
    /// The returned semaphore is signalled at end of file.
    func drain(_ fd: Int32, logFile: URL) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        // Opened directly: `FileManager.createFile` goes through a temporary file and a rename.
        let descriptor = open(logFile.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let file = descriptor >= 0 ? FileHandle(fileDescriptor: descriptor, closeOnDealloc: true) : nil
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let n = read(fd, &chunk, chunk.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                let data = Data(chunk[0..<n])
                try? file?.write(contentsOf: data)
                buffer.withLock { tail in
                    tail.append(data)
                    if tail.count > limit { tail.removeFirst(tail.count - limit) }
                }
            }
            try? file?.close()
            done.signal()
        }
        thread.name = "log-tail"
        thread.start()
        return done
    }

    /// The last lines, at most `lines` of them.
    func text(lines: Int = 40) -> String {
        let raw = buffer.withLock { String(decoding: $0, as: UTF8.self) }
        return raw.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
