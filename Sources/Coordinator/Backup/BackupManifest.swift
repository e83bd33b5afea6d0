import Foundation

/// What a backup holds (`manifest.json` in the backup's folder): the database's dump and every file of the
/// coordinator's data folder, each with its size and SHA-256, so a restore proves it put back exactly what
/// was saved before a coordinator starts on it.
public struct BackupManifest: Codable, Sendable, Equatable {
    public struct File: Codable, Sendable, Equatable {
        /// Relative to the data folder (and to `files/` in the backup).
        public var path: String
        public var bytes: Int64
        public var sha256: String
    }

    public enum StoreKind: String, Codable, Sendable {
        case sqlite, postgres
    }

    public var format = 1
    public var createdAt: Date
    public var store: StoreKind
    /// The dump's file name in the backup: `farm.sqlite` (an SQLite database) or `database.dump` (pg_dump's custom format).
    public var database: String
    public var databaseBytes: Int64
    public var databaseSHA256: String
    public var files: [File]
    /// Seconds the backup took; the restore's own time is in `RestoreReport`.
    public var seconds: Double

    public static let fileName = "manifest.json"
}

/// What `farm-coordinator restore` did.
public struct RestoreReport: Codable, Sendable, Equatable {
    public var files: Int
    public var bytes: Int64
    public var store: BackupManifest.StoreKind
    public var seconds: Double
}
