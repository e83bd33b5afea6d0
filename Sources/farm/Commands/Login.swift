import ArgumentParser
import FarmModel
import Foundation

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an API key against the coordinator and save it for later commands.",
        discussion: "Reads the key from standard input when it is not given (keeps it out of the shell's history).")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The API key (mf_…); default: read from standard input.")
    var key: String?

    func run() async throws {
        guard let key = (key ?? readLine(strippingNewline: true))?.trimmingCharacters(in: .whitespaces), !key.isEmpty else {
            throw ValidationError("no key given: pass it, or pipe it into `farm login`")
        }
        let url = try options.coordinatorURL
        do {
            let me = try await FarmClient(base: url, apiKey: key).me()
            try ClientConfiguration.save(apiKey: key, for: url)
            print("logged in to \(ClientConfiguration.key(for: url)) as \(me.name) (\(me.role.rawValue), team \(me.team.name)); key saved in \(ClientConfiguration.path.path)")
        } catch let error as FarmClient.ClientError {
            printError(error.description)
            throw error.exitCode
        }
    }
}

struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show the API key's user, role, team and quotas.")

    @OptionGroup var options: ClientOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        do {
            let me = try await options.client.me()
            if json { return try printJSON(me) }
            let quotas = me.team.quotas
            print("\(me.name)  \(me.role.rawValue)  team \(me.team.name)")
            print("quotas: \(quotas.submissionsPerMinute) submissions/min, \(quotas.concurrentVideos) videos at once, "
                  + "\(Int(quotas.renderSecondsPerDay)) render-s/day, \(quotas.storageBytes >> 20) MiB stored")
        } catch let error as FarmClient.ClientError {
            printError(error.description)
            throw error.exitCode
        }
    }
}
