import ArgumentParser
import Coordinator
import FarmModel
import FarmStorage
import Foundation
import Logging

/// Where the coordinator's store is, for the account commands (which work with the coordinator running or not).
struct StoreLocation: ParsableArguments {
    @Option(help: "The coordinator's data folder (its embedded store).")
    var dataDir = "farm-data"

    @Option(help: "PostgreSQL URL; default $FARM_DATABASE_URL, else the embedded store in --data-dir.")
    var database: String?

    /// Runs `body` with the store's accounts, migrated first.
    func withAccounts<T: Sendable>(_ body: @escaping @Sendable (Accounts) async throws -> T) async throws -> T {
        let logger = Logger(label: "farm.accounts")
        if let url = database ?? ProcessInfo.processInfo.environment["FARM_DATABASE_URL"] {
            let store = try PostgresStore(url: url, logger: logger)
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { await store.run(); return nil }
                group.addTask {
                    try await store.migrate()
                    return try await body(Accounts(store: store))
                }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let result { return result }
                }
                throw ValidationError("the store's connection pool ended")
            }
        }
        let folder = URL(fileURLWithPath: dataDir, isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: EngineConfiguration(dataDirectory: folder).databasePath)
        try await store.migrate()
        return try await body(Accounts(store: store))
    }
}

/// `farm-coordinator users add|list`.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Add and list the API's users (admins can do the same over the API).",
        subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user and print its first API key (shown only now).")
        @Argument(help: "The user's name (letters, digits, '.', '_', '@', '-').") var name: String
        @Option(help: "The team's name; created with default quotas if it does not exist.") var team = "default"
        @Option(help: "viewer, creator, operator or admin.") var role: Role = .creator
        @Option(help: "The first key stops working after this many days (default: never).") var expiresInDays: Int?
        @OptionGroup var location: StoreLocation

        func run() async throws {
            let (name, team, role, days) = (name, team, role, expiresInDays)
            let created = try await location.withAccounts { accounts in
                let user = try await accounts.createUser(CreateUserRequest(name: name, team: team, role: role))
                return try await accounts.createKey(for: user, request: CreateKeyRequest(name: "first", expiresInDays: days))
            }
            FileHandle.standardError.write(Data("added \(name) (\(role.rawValue)) to team \(team); its API key, shown only now:\n".utf8))
            print(created.key)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users: name, role, team.")
        @OptionGroup var location: StoreLocation

        func run() async throws {
            let rows = try await location.withAccounts { accounts in
                let teams = Dictionary(uniqueKeysWithValues: try await accounts.store.teams().map { ($0.id, $0.name) })
                return try await accounts.store.users(teamID: nil).map { "\($0.name)\t\($0.role.rawValue)\t\(teams[$0.teamID] ?? $0.teamID)" }
            }
            rows.forEach { print($0) }
        }
    }
}

/// `farm-coordinator keys create|list|revoke`.
struct APIKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Create, list and revoke users' API keys.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key for a user and print it (shown only now).")
        @Option(help: "The user's name or id.") var user: String
        @Option(help: "A name to recognise the key by.") var name = "key"
        @Option(help: "The key stops working after this many days (default: never).") var expiresInDays: Int?
        @OptionGroup var location: StoreLocation

        func run() async throws {
            let (userName, name, days) = (user, name, expiresInDays)
            let created = try await location.withAccounts { accounts in
                guard let user = try await accounts.store.user(userName) else { throw ValidationError("no user \(userName)") }
                return try await accounts.createKey(for: user, request: CreateKeyRequest(name: name, expiresInDays: days))
            }
            FileHandle.standardError.write(Data("created key \(created.info.id) for \(userName); shown only now:\n".utf8))
            print(created.key)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's keys: id, name, created, expires, revoked, last used.")
        @Option(help: "The user's name or id.") var user: String
        @OptionGroup var location: StoreLocation

        func run() async throws {
            let userName = user
            let keys = try await location.withAccounts { accounts in
                guard let user = try await accounts.store.user(userName) else { throw ValidationError("no user \(userName)") }
                return try await accounts.store.keys(userID: user.id)
            }
            for key in keys {
                let dates = [key.createdAt, key.expiresAt, key.revokedAt, key.lastUsedAt].map { $0?.ISO8601Format() ?? "-" }
                print(([key.id, key.name] + dates).joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its id (mf_…): refused from the next request on.")
        @Argument(help: "The key's id, or the whole key.") var key: String
        @OptionGroup var location: StoreLocation

        func run() async throws {
            let id = APIKeySecret.id(of: key) ?? key
            let info = try await location.withAccounts { accounts in try await accounts.revokeKey(id: id) }
            print("revoked \(info.id) (\(info.name))")
        }
    }
}

extension Role: ExpressibleByArgument {}
