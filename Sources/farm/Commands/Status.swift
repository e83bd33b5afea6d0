import ArgumentParser
import FarmModel
import Foundation

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a video's state and its scenes.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The video id.")
    var id: String

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Follow the video until it is final, then report as `farm submit --wait` does.")
    var wait = false

    func run() async throws {
        let client = try options.client
        do {
            if wait {
                let status = try await Follow(client: client, json: json).follow(id)
                return try Follow.report(status, client: client, json: json)
            }
            let status = try await client.status(id)
            if json {
                try printJSON(status)
                return
            }
            print("\(status.id)  \(status.state.rawValue)  \(status.scriptName)  \(status.quality.rawValue)  [\(status.renditions.joined(separator: ", "))]")
            if !status.state.isFinal { print("  " + ProgressDisplay.summary(status.progress ?? VideoProgress(status))) }
            for scene in status.scenes { print(ProgressDisplay.line(scene)) }
            if let error = status.error { print("error: \(error)") }
            for scene in (status.plan.map { [$0] } ?? []) + status.scenes where scene.error != nil && !scene.error!.logTail.isEmpty {
                print("--- \(scene.name) log tail ---")
                print(scene.error!.logTail.split(separator: "\n").suffix(20).joined(separator: "\n"))
            }
            if let outputs = status.outputs {
                print("master: \(outputs.masterPath)")
                print("        \(client.url(outputs.master).absoluteString)")
            }
            for scene in status.scenes {
                if let still = scene.still { print("still \(scene.name): \(still.hasPrefix("http") ? still : client.url(still).absoluteString)") }
            }
        } catch let error as FarmClient.ClientError {
            printError(error.description)
            throw error.exitCode
        }
    }
}

struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a video: its running renders stop at once.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The video id.")
    var id: String

    func run() async throws {
        do {
            let status = try await options.client.cancel(id)
            print("\(status.id) \(status.state.rawValue)")
        } catch let error as FarmClient.ClientError {
            printError(error.description)
            throw error.exitCode
        }
    }
}

struct Agents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List connected agents.")

    @OptionGroup var options: ClientOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        do {
            let agents = try await options.client.agents()
            if json {
                try printJSON(agents)
                return
            }
            if agents.isEmpty { print("no agents connected") }
            for agent in agents {
                print("\(agent.id)  \(agent.running)/\(agent.slots) slots  \(agent.cores) cores  manim \(agent.manimVersion)"
                      + (agent.environment.map { "  env \($0)" } ?? "") + "  latex: \(agent.hasLaTeX ? "yes" : "no")\(agent.draining ? "  draining" : "")")
            }
        } catch let error as FarmClient.ClientError {
            printError(error.description)
            throw error.exitCode
        }
    }
}
