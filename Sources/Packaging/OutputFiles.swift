import CPosix
import Foundation

/// Writes a video's packaged files, and makes them durable once, before the
/// output is published.
///
/// `Data.write(to:)` syncs every file it writes; a video of hundreds of
/// segments then spends longer in `fsync` than in packaging. One `syncfs`
/// over the finished folder gives the same guarantee at the point that
/// matters, before the rename that publishes it.
enum OutputFiles {
    static func write(_ data: Data, to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw PackagingError.io(path: url.path, errno: errno) }
        defer { close(descriptor) }
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let written = Glibc.write(descriptor, raw.baseAddress! + done, raw.count - done)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw PackagingError.io(path: url.path, errno: errno) }
                done += written
            }
        }
    }

    /// Flushes everything written under `directory` (and its file system) to disk.
    static func makeDurable(_ directory: URL) throws {
        let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw PackagingError.io(path: directory.path, errno: errno) }
        defer { close(descriptor) }
        guard syncfs(descriptor) == 0 else { throw PackagingError.io(path: directory.path, errno: errno) }
    }
}
