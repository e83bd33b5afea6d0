import ArgumentParser
import Coordinator
import Foundation

/// `farm-coordinator backup --to FOLDER` and `farm-coordinator restore --from FOLDER` (docs/runbook.md § Backups).
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the coordinator's database and data folder into a new folder (safe while it runs).")

    @OptionGroup var location: StoreLocation

    @Option(help: "A new or empty folder for the backup.")
    var to: String

    func run() async throws {
        let manifest = try await FarmBackup.backup(
            dataDirectory: URL(fileURLWithPath: location.dataDir, isDirectory: true),
            databaseURL: location.database ?? ProcessInfo.processInfo.environment["FARM_DATABASE_URL"],
            to: URL(fileURLWithPath: to, isDirectory: true))
        let bytes = manifest.files.reduce(manifest.databaseBytes) { $0 + $1.bytes }
        print("backup: \(manifest.store.rawValue) database and \(manifest.files.count) files, \(bytes) bytes, in \(String(format: "%.1f", manifest.seconds)) s: \(to)")
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into a new data folder and an empty database, checking every file; then start the coordinator on them.")

    @OptionGroup var location: StoreLocation

    @Option(help: "The backup's folder.")
    var from: String

    func run() async throws {
        let report = try await FarmBackup.restore(
            from: URL(fileURLWithPath: from, isDirectory: true),
            dataDirectory: URL(fileURLWithPath: location.dataDir, isDirectory: true),
            databaseURL: location.database ?? ProcessInfo.processInfo.environment["FARM_DATABASE_URL"])
        print("restore: \(report.store.rawValue) database and \(report.files) files, \(report.bytes) bytes, checked, in \(String(format: "%.1f", report.seconds)) s")
    }
}
