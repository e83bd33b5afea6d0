import ArgumentParser
import FarmModel
import Foundation

/// `farm account export|erase` and `farm team expire`: personal data and retention over the API.
struct Account: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export or erase a user's data (your own, or anyone's with an admin key).",
        subcommands: [Export.self, Erase.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download everything the farm holds about a user as a tar archive.")
        @OptionGroup var options: ClientOptions
        @Option(help: "The user's id or name (default: the key's own user).") var user: String?
        @Option(name: .shortAndLong, help: "Where to write the archive.") var output = "manimfarm-export.tar"

        func run() async throws {
            do {
                let client = try options.client
                var id = user ?? ""
                if user == nil { id = try await client.me().id }
                let archive = try await client.export(userID: id)
                try archive.write(to: URL(fileURLWithPath: output))
                print("wrote \(output) (\(archive.count) bytes)")
            } catch let error as FarmClient.ClientError {
                printError(error.description)
                throw error.exitCode
            }
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a user's scripts, outputs, cached renders and logs, and revoke its keys. Cannot be undone.")
        @OptionGroup var options: ClientOptions
        @Option(help: "The user's id or name (default: the key's own user).") var user: String?
        @Flag(help: "Yes, erase it.") var yes = false

        func run() async throws {
            guard yes else { throw ValidationError("erasure cannot be undone: say --yes") }
            do {
                let client = try options.client
                var id = user ?? ""
                if user == nil { id = try await client.me().id }
                let report = try await client.erase(userID: id)
                print("erased \(report.userID): \(report.videos) videos (\(report.cancelled) cancelled), \(report.outputsDeleted) outputs, "
                      + "\(report.cacheEntriesDeleted) cache entries, \(report.keysRevoked) keys revoked")
            } catch let error as FarmClient.ClientError {
                printError(error.description)
                throw error.exitCode
            }
        }
    }
}

struct Team: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Team administration (admin key).", subcommands: [Expire.self])

    struct Expire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply a team's retention policy now: delete outputs and logs older than its retention days.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The team's id or name.") var team: String
        @Flag(help: "Only list what would be deleted.") var dryRun = false

        func run() async throws {
            do {
                let report = try await options.client.expire(team: team, dryRun: dryRun)
                guard let days = report.retentionDays else { return print("team \(team) keeps everything (no retention days set)") }
                for video in report.videos {
                    print("\(video.id)  \(video.finishedAt.ISO8601Format())  \(video.outputBytes) bytes  \(video.scriptName)")
                }
                print("\(dryRun ? "would expire" : "expired") \(report.videos.count) videos finished more than \(days) days ago")
            } catch let error as FarmClient.ClientError {
                printError(error.description)
                throw error.exitCode
            }
        }
    }
}
