import CPosix
import Foundation

/// Writes the coordinator's media files (staged segments, packaged videos)
/// with plain system calls.
///
/// `Data.write(to:)` syncs every file it writes, and `FileManager.createFile`
/// goes through a temporary file and a rename; for hundreds of small segments
/// either costs more than the work itself. Packaging instead makes a finished
/// folder durable with one `syncfs` before the rename that publishes it.
public enum OutputFiles {
    /// Writes `data` as the whole content of the file at `url`.
    public static func write(_ data: Data, to url: URL) throws {
        try write(data, path: url.path, at: 0, flags: O_TRUNC)
    }

    /// Writes `data` at `offset` of the file at `url`, creating it if needed and keeping the rest.
    public static func write(_ data: Data, to url: URL, at offset: Int) throws {
        try write(data, path: url.path, at: offset, flags: 0)
    }

    /// Flushes everything written under `directory` (and its file system) to disk.
    static func makeDurable(_ directory: URL) throws {
        let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw PackagingError.io(path: directory.path, errno: errno) }
        defer { close(descriptor) }
        guard syncfs(descriptor) == 0 else { throw PackagingError.io(path: directory.path, errno: errno) }
    }

    private static func write(_ data: Data, path: String, at offset: Int, flags: Int32) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0o644)
        guard descriptor >= 0 else { throw PackagingError.io(path: path, errno: errno) }
        defer { close(descriptor) }
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let written = pwrite(descriptor, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw PackagingError.io(path: path, errno: errno) }
                done += written
            }
        }
    }
}
