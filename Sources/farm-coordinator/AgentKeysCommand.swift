import ArgumentParser
import Coordinator
import Foundation
import ZeroMQ

/// Options naming where a coordinator keeps its keys.
struct KeyLocation: ParsableArguments {
    @Option(help: "The coordinator's data folder.")
    var dataDir = "farm-data"

    @Option(help: "File of admitted agents' public keys (default: --data-dir's keys/authorized_agents).")
    var authorizedAgents: String?

    var authorizedAgentsFile: URL {
        authorizedAgents.map { URL(fileURLWithPath: $0) }
            ?? CoordinatorKeys.folder(dataDirectory: URL(fileURLWithPath: dataDir, isDirectory: true))
            .appendingPathComponent("authorized_agents")
    }
}

/// `farm-coordinator agents add|revoke|list`: which agents' keys the coordinator admits.
struct AgentKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents", abstract: "Admit, revoke and list agents' CurveZMQ public keys.",
        subcommands: [Add.self, Revoke.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Admit an agent's public key (takes effect on its next connection).")
        @Argument(help: "The agent's public key (farm-agent logs it at start).") var key: String
        @Option(help: "A name to recognise it by.") var name: String?
        @OptionGroup var location: KeyLocation

        func run() throws {
            try AuthorizedKeys.add(key, name: name, to: location.authorizedAgentsFile)
            print("admitted \(key) in \(location.authorizedAgentsFile.path)")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refuse an agent's key from its next connection (restart the coordinator to cut a live one).")
        @Argument var key: String
        @OptionGroup var location: KeyLocation

        func run() throws {
            guard try AuthorizedKeys.revoke(key, from: location.authorizedAgentsFile) else {
                throw ValidationError("\(key) is not in \(location.authorizedAgentsFile.path)")
            }
            print("revoked \(key)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List admitted keys and their names.")
        @OptionGroup var location: KeyLocation

        func run() throws {
            let text = (try? String(contentsOf: location.authorizedAgentsFile, encoding: .utf8)) ?? ""
            for (key, name) in AuthorizedKeys.parse(text).sorted(by: { $0.value < $1.value }) {
                print(name == key ? key : "\(key)  \(name)")
            }
        }
    }
}

/// `farm-coordinator key`: prints the coordinator's public key (generating its key pair on first use).
struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Print the coordinator's CurveZMQ public key, which agents pin (--coordinator-key).")
    @Option(help: "The coordinator's data folder.") var dataDir = "farm-data"
    @Option(help: "The coordinator's secret key file (default: generated in --data-dir's keys/).") var secretKeyFile: String?

    func run() throws {
        let keys = try CoordinatorKeys.load(dataDirectory: URL(fileURLWithPath: dataDir, isDirectory: true),
                                            secretKeyFile: secretKeyFile.map { URL(fileURLWithPath: $0) })
        print(keys.publicKey)
    }
}

/// `farm-coordinator fleet-keys --out DIR`: keys for a fleet whose agents are
/// interchangeable (an auto-scaling group, `docker compose --scale`): one
/// coordinator key pair and one key pair all agents share, as files and as the
/// two secret-store documents the cloud-init scripts read.
struct FleetKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-keys", abstract: "Generate a coordinator key pair and a shared agent key pair for a fleet.")
    @Option(help: "Folder to write coordinator/ and agent/ (and their secret-store JSON) into; existing keys are kept.")
    var out: String

    func run() throws {
        let folder = URL(fileURLWithPath: out, isDirectory: true)
        let coordinator = folder.appendingPathComponent("coordinator"), agent = folder.appendingPathComponent("agent")
        let coordinatorKeys = try CurveKeys.load(secretFile: coordinator.appendingPathComponent("coordinator.key"), create: true)
        let agentKeys = try CurveKeys.load(secretFile: agent.appendingPathComponent("agent.key"), create: true)
        try AuthorizedKeys.add(agentKeys.publicKey, name: "fleet", to: coordinator.appendingPathComponent("authorized_agents"))
        try Data((coordinatorKeys.publicKey + "\n").utf8).write(to: agent.appendingPathComponent("coordinator.pub"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try CurveKeys.writePrivately(String(decoding: try encoder.encode([
            "coordinator_key": coordinatorKeys.secretKey, "agent_public_key": agentKeys.publicKey,
        ]), as: UTF8.self), to: folder.appendingPathComponent("coordinator-secret.json"))
        try CurveKeys.writePrivately(String(decoding: try encoder.encode([
            "agent_key": agentKeys.secretKey, "coordinator_public_key": coordinatorKeys.publicKey,
        ]), as: UTF8.self), to: folder.appendingPathComponent("agent-secret.json"))
        print("coordinator public key \(coordinatorKeys.publicKey)\nagent public key       \(agentKeys.publicKey)")
    }
}
