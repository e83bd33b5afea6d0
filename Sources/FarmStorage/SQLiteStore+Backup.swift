import GRDB

extension SQLiteStore {
    /// Copies the database at `source` into a new file at `destination` with SQLite's online backup, page by page
    /// under its locks: a consistent copy even while a coordinator writes (what `cp` of a WAL database is not).
    public static func backup(databaseAt source: String, to destination: String) throws {
        let from = try DatabaseQueue(path: source)
        let to = try DatabaseQueue(path: destination)
        try from.backup(to: to)
        try to.close()
        try from.close()
    }
}
