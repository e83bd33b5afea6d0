@testable import Coordinator
import FarmModel
import FarmStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Testing

/// The HTTP API in process (Hummingbird's router test client) over a real engine, real
/// accounts and a real SQLite store, with a first admin as a coordinator creates one.
struct APIFixture: Sendable {
    let folder: URL
    let store: SQLiteStore
    let engine: FarmEngine
    let accounts: Accounts
    let api: FarmAPI
    let adminKey: String

    static let script = "from manim import *\n\nclass Hello(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()))\n"

    /// Runs `body` against a fresh API; the store writer runs for the test's duration.
    static func with(settings: APISettings = APISettings(), maxScriptBytes: Int = 1 << 20, folder reuse: URL? = nil,
                     generation: GenerationSettings? = Self.idleGeneration,
                     _ body: @escaping @Sendable (any TestClientProtocol, APIFixture) async throws -> Void) async throws {
        let folder = reuse ?? FileManager.default.temporaryDirectory.appendingPathComponent("farm-http-\(UUID().uuidString.prefix(8))")
        defer { if reuse == nil { try? FileManager.default.removeItem(at: folder) } }
        var configuration = EngineConfiguration(dataDirectory: folder)
        configuration.maxScriptBytes = maxScriptBytes
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: configuration.databasePath)
        let engine = FarmEngine(configuration: configuration, store: store, logger: Logger(label: "test.http"))
        try await engine.start()
        let accounts = Accounts(store: store)
        let keyFile = CoordinatorServer.adminKeyFile(dataDirectory: folder)
        try await accounts.bootstrap(keyFile: keyFile, logger: Logger(label: "test.http"))
        let adminKey = try String(contentsOf: keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let personalData = PersonalData(engine: engine, accounts: accounts, store: store, logger: Logger(label: "test.http"))
        var api = FarmAPI(engine: engine, accounts: accounts, personalData: personalData, metrics: PrometheusCollectorRegistry(),
                          publishedDirectory: configuration.publishedDirectory, maxRequestBytes: maxScriptBytes * 2 + 65_536,
                          settings: settings)
        // Jobs are accepted and stored; no `GenerationService` runs them here (a test runs one itself).
        api.generations = Generations(settings: generation, engine: engine, store: store, logger: Logger(label: "test.http"))
        let fixture = APIFixture(folder: folder, store: store, engine: engine, accounts: accounts, api: api, adminKey: adminKey)
        let app = Application(router: api.router())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await engine.writer.run() }
            try await app.test(.router) { client in try await body(client, fixture) }
            group.cancelAll()
        }
    }

    /// Generation on, with a model nobody calls: the fixture accepts jobs but runs none.
    static let idleGeneration: GenerationSettings? = GenerationSettings(
        model: GeminiModel(.init(endpoint: URL(string: "http://127.0.0.1:9")!, model: "gemini-idle", apiKey: .value("unused"))))

    /// A new user of `team` with `role`, and its key.
    func user(_ name: String, team: String, role: Role) async throws -> (user: UserRecord, key: String) {
        let user = try await accounts.createUser(CreateUserRequest(name: name, team: team, role: role))
        return (user, try await accounts.createKey(for: user, request: CreateKeyRequest(name: "test")).key)
    }

    /// Sets a team's quotas.
    func setQuotas(team: String, _ change: (inout TeamQuotas) -> Void) async throws {
        var quotas = try #require(try await store.team(team)).quotas
        change(&quotas)
        _ = try await accounts.updateTeam(team, UpdateTeamRequest(quotas: quotas))
    }

    static func headers(_ key: String?, json: Bool = false) -> HTTPFields {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json { headers[.contentType] = "application/json" }
        return headers
    }

    static func json<T: Encodable>(_ value: T) -> ByteBuffer {
        ByteBuffer(data: try! JSONEncoder().encode(value))
    }
}

extension TestClientProtocol {
    /// Sends `method uri` with `key`'s bearer token and, if given, a JSON body.
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ uri: String, key: String?, body: (any Encodable)? = nil) async throws -> TestResponse {
        try await execute(uri: uri, method: method, headers: APIFixture.headers(key, json: body != nil),
                          body: body.map { APIFixture.json($0) })
    }
}

extension TestResponse {
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder.farm.decode(T.self, from: Data(buffer: body))
    }

    var text: String { String(buffer: body) }
}
