import Crypto
import FarmStorage
import Foundation

/// `farm-coordinator backup` and `restore`: a consistent copy of the coordinator's state, and putting it back.
///
/// The database first: SQLite's online backup, or `pg_dump` (one repeatable-read snapshot); then the data
/// folder's files (published outputs, accepted results waiting in `staging/`, the render cache, the keys).
/// In that order every file the dump refers to is in the backup: a result is written before it is
/// accepted, and what is written later is only more than the dump knows. Restoring puts the files back,
/// checking each against its SHA-256, and loads the dump into an empty database; a coordinator started on
/// it resumes every video that was not final, keeping every result the dump had accepted.
public enum FarmBackup {
    public enum Failure: Error, CustomStringConvertible {
        case notEmpty(String)
        case damaged(String)
        case tool(String)

        public var description: String {
            switch self {
            case .notEmpty(let what): "\(what) is not empty: restore into a new data folder and an empty database"
            case .damaged(let what): "the backup is damaged: \(what)"
            case .tool(let what): what
            }
        }
    }

    /// The database files of the embedded store, copied by SQLite's backup rather than as files.
    static let sqliteFiles: Set<String> = ["farm.sqlite", "farm.sqlite-wal", "farm.sqlite-shm"]

    /// Backs up the coordinator whose data folder is `dataDirectory` (and whose store is `databaseURL`,
    /// PostgreSQL, or else the folder's SQLite) into `destination`, a new folder.
    public static func backup(dataDirectory: URL, databaseURL: String?, to destination: URL) async throws -> BackupManifest {
        try await offloaded {
            let started = Date()
            if FileManager.default.fileExists(atPath: destination.path) {
                guard try FileManager.default.contentsOfDirectory(atPath: destination.path).isEmpty else {
                    throw Failure.notEmpty("the backup folder \(destination.path)")
                }
            }
            try FileManager.default.createDirectory(at: destination.appendingPathComponent("files"), withIntermediateDirectories: true)
            let store: BackupManifest.StoreKind
            let database: String
            if let databaseURL {
                store = .postgres
                database = "database.dump"
                try PostgresTools.dump(databaseURL, to: destination.appendingPathComponent(database))
            } else {
                store = .sqlite
                database = "farm.sqlite"
                let live = EngineConfiguration(dataDirectory: dataDirectory).databasePath
                try SQLiteStore.backup(databaseAt: live, to: destination.appendingPathComponent(database).path)
            }
            let dump = destination.appendingPathComponent(database)
            var files: [BackupManifest.File] = []
            for path in try Self.files(under: dataDirectory) {
                let target = destination.appendingPathComponent("files").appendingPathComponent(path)
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                // A file can vanish between listing and copying (retention, a finished video's staging): then it
                // was not needed by the dump either.
                guard let copied = try? Self.copy(dataDirectory.appendingPathComponent(path), to: target) else { continue }
                files.append(.init(path: path, bytes: copied.bytes, sha256: copied.sha256))
            }
            // One flush of the file system for every file written: an fsync per file would cost more than the copies.
            sync()
            let dumpDigest = try Self.digest(of: dump)
            let manifest = BackupManifest(createdAt: started, store: store, database: database, databaseBytes: dumpDigest.bytes,
                                          databaseSHA256: dumpDigest.sha256, files: files, seconds: Date().timeIntervalSince(started))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            try encoder.encode(manifest).write(to: destination.appendingPathComponent(BackupManifest.fileName))
            return manifest
        }
    }

    /// Restores `backup` into `dataDirectory` (new or empty) and the database at `databaseURL` (empty), or the
    /// folder's SQLite when the backup is of one.
    public static func restore(from backup: URL, dataDirectory: URL, databaseURL: String?) async throws -> RestoreReport {
        try await offloaded {
            let started = Date()
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let manifestData: Data
            do { manifestData = try Data(contentsOf: backup.appendingPathComponent(BackupManifest.fileName)) } catch {
                throw Failure.damaged("no \(BackupManifest.fileName) in \(backup.path)")
            }
            let manifest = try decoder.decode(BackupManifest.self, from: manifestData)
            guard manifest.format == 1 else { throw Failure.damaged("format \(manifest.format) is newer than this coordinator") }
            if FileManager.default.fileExists(atPath: dataDirectory.path),
               !(try FileManager.default.contentsOfDirectory(atPath: dataDirectory.path).isEmpty) {
                throw Failure.notEmpty("the data folder \(dataDirectory.path)")
            }
            let dump = backup.appendingPathComponent(manifest.database)
            guard (try? Self.digest(of: dump))?.sha256 == manifest.databaseSHA256 else { throw Failure.damaged("\(manifest.database) does not match its checksum") }
            switch (manifest.store, databaseURL) {
            case (.postgres, nil): throw Failure.tool("the backup is of a PostgreSQL store: give the database to restore into (--database)")
            case (.sqlite, .some): throw Failure.tool("the backup is of an embedded store: restore it without --database")
            default: break
            }
            try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
            var bytes: Int64 = 0
            for file in manifest.files {
                guard !file.path.split(separator: "/").contains(where: { $0 == ".." || $0.isEmpty }), !file.path.hasPrefix("/") else {
                    throw Failure.damaged("a file outside the data folder: \(file.path)")
                }
                let target = dataDirectory.appendingPathComponent(file.path)
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                let copied = try Self.copy(backup.appendingPathComponent("files").appendingPathComponent(file.path), to: target)
                guard copied.sha256 == file.sha256, copied.bytes == file.bytes else { throw Failure.damaged("\(file.path) does not match its checksum") }
                bytes += copied.bytes
            }
            if let databaseURL {
                try PostgresTools.restore(dump, into: databaseURL)
            } else {
                let target = EngineConfiguration(dataDirectory: dataDirectory).databasePath
                _ = try Self.copy(dump, to: URL(fileURLWithPath: target))
            }
            sync()
            return RestoreReport(files: manifest.files.count, bytes: bytes + manifest.databaseBytes, store: manifest.store,
                                 seconds: Date().timeIntervalSince(started))
        }
    }

    /// Every regular file under `folder`, relative to it, sorted; the live SQLite files left out.
    static func files(under folder: URL) throws -> [String] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        let base = folder.standardizedFileURL.resolvingSymlinksInPath().path
        var found: [String] = []
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            let full = url.standardizedFileURL.resolvingSymlinksInPath().path
            guard full.hasPrefix(base + "/") else { continue }
            let relative = String(full.dropFirst(base.count + 1))
            if relative.split(separator: "/").count == 1, sqliteFiles.contains(relative) { continue }
            found.append(relative)
        }
        return found.sorted()
    }

    /// Copies `source` to `target` a megabyte at a time, hashing as it goes. Copies are readable by their owner
    /// only: a backup holds the coordinator's keys, and what it restores is read by the coordinator's user alone.
    static func copy(_ source: URL, to target: URL) throws -> (bytes: Int64, sha256: String) {
        FileManager.default.createFile(atPath: target.path, contents: nil, attributes: [.posixPermissions: 0o600])
        let output = try FileHandle(forWritingTo: target)
        defer { try? output.close() }
        return try digest(of: source) { try output.write(contentsOf: $0) }
    }

    /// The size and SHA-256 of `file`, read a megabyte at a time; each chunk also goes to `each`.
    static func digest(of file: URL, _ each: (Data) throws -> Void = { _ in }) throws -> (bytes: Int64, sha256: String) {
        let input = try FileHandle(forReadingFrom: file)
        defer { try? input.close() }
        var hasher = SHA256()
        var bytes: Int64 = 0
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            try each(chunk)
            bytes += Int64(chunk.count)
        }
        return (bytes, hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }
}
