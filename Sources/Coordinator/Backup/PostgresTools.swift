import Foundation

/// PostgreSQL's own dump and restore (`pg_dump`, `pg_restore` from the postgresql-client package), run on the
/// caller's thread (the backup runs on one of its own). The password goes in the environment, not the
/// arguments, which any user of the host can read.
enum PostgresTools {
    static func dump(_ url: String, to file: URL) throws {
        // Custom format: compressed, restorable in parallel; one snapshot, so the copy is consistent.
        try run("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", "--file", file.path], url: url)
    }

    static func restore(_ file: URL, into url: String) throws {
        try run("pg_restore", ["--exit-on-error", "--no-owner", "--no-privileges", "--single-transaction", file.path], url: url)
    }

    private static func run(_ tool: String, _ arguments: [String], url: String) throws {
        guard var components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw FarmBackup.Failure.tool("not a PostgreSQL URL")
        }
        var environment = ProcessInfo.processInfo.environment
        if let password = components.password {
            environment["PGPASSWORD"] = password
            components.password = nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool, "--dbname", components.string ?? url] + arguments
        process.environment = environment
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("farm-\(tool)-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        let errorHandle = try FileHandle(forWritingTo: errors)
        defer { try? errorHandle.close() }
        process.standardError = errorHandle
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw FarmBackup.Failure.tool("\(tool) cannot be started: \(error)") }
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let said = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            if process.terminationStatus == 127 {
                throw FarmBackup.Failure.tool("\(tool) is not installed (Debian: postgresql-client)")
            }
            throw FarmBackup.Failure.tool("\(tool) failed (\(process.terminationStatus)): \(said.suffix(1_000))")
        }
    }
}
