@testable import Coordinator
import FarmModel
import FarmStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Testing

/// The HTTP API's routes in process (Hummingbird's router test client), over a real engine and SQLite store.
@Suite struct HTTPRouteTests {
    /// Runs `body` against the API of a fresh engine whose store writer runs for the test's duration.
    static func withAPI(maxScriptBytes: Int = 1 << 20,
                        _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-http-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = EngineConfiguration(dataDirectory: folder)
        configuration.maxScriptBytes = maxScriptBytes
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let engine = FarmEngine(configuration: configuration, store: try SQLiteStore(path: configuration.databasePath),
                                logger: Logger(label: "test.http"))
        try await engine.start()
        let api = FarmAPI(engine: engine, metrics: PrometheusCollectorRegistry(), publishedDirectory: configuration.publishedDirectory,
                          maxRequestBytes: maxScriptBytes * 2 + 65_536)
        let app = Application(router: api.router())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await engine.writer.run() }
            try await app.test(.router, body)
            group.cancelAll()
        }
    }

    static func json(_ request: SubmitRequest) -> ByteBuffer {
        ByteBuffer(data: try! JSONEncoder().encode(request))
    }

    static let script = "from manim import *\n\nclass Hello(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()))\n"

    @Test func aVideoIsSubmittedFollowedAndCancelled() async throws {
        try await Self.withAPI { client in
            var id = ""
            try await client.execute(uri: "/v1/videos", method: .post, body: Self.json(SubmitRequest(script: Self.script, scriptName: "hello.py"))) {
                response in
                #expect(response.status == .created)
                let status = try JSONDecoder.farm.decode(VideoStatus.self, from: Data(buffer: response.body))
                #expect(response.headers[.location] == "/v1/videos/\(status.id)")
                #expect(status.state == .queued)
                #expect(status.plan?.name == "Hello")
                id = status.id
            }
            try await client.execute(uri: "/v1/videos/\(id)", method: .get) { response in
                #expect(response.status == .ok)
                let status = try JSONDecoder.farm.decode(VideoStatus.self, from: Data(buffer: response.body))
                #expect(status.id == id)
            }
            try await client.execute(uri: "/v1/videos/\(id)", method: .delete) { response in
                #expect(response.status == .ok)
                let status = try JSONDecoder.farm.decode(VideoStatus.self, from: Data(buffer: response.body))
                #expect(status.state == .cancelled)
            }
            try await client.execute(uri: "/v1/videos?limit=5", method: .get) { response in
                let listed = try JSONDecoder.farm.decode([VideoStatus].self, from: Data(buffer: response.body))
                #expect(listed.map(\.id) == [id])
            }
        }
    }

    @Test func badRequestsGetClearStatuses() async throws {
        try await Self.withAPI(maxScriptBytes: 4_096) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/videos", method: .post, body: ByteBuffer(string: "{not json")) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("not a valid submission"))
            }
            try await client.execute(uri: "/v1/videos", method: .post,
                                     body: Self.json(SubmitRequest(script: "class Broken(Scene:\n"))) { response in
                #expect(response.status == .unprocessableContent)
                #expect(String(buffer: response.body).contains("syntax error"))
            }
            try await client.execute(uri: "/v1/videos", method: .post,
                                     body: Self.json(SubmitRequest(script: String(repeating: "#", count: 5_000)))) { response in
                #expect(response.status == .contentTooLarge)
            }
            try await client.execute(uri: "/v1/videos", method: .post,
                                     body: Self.json(SubmitRequest(script: Self.script, ladder: [1_081]))) { response in
                #expect(response.status == .unprocessableContent)
            }
            try await client.execute(uri: "/v1/videos/vmissing", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/videos/vmissing", method: .delete) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/videos/vmissing/..%2F..%2Ffarm.sqlite", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/videos/vmissing/.hidden", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/stats", method: .get) { response in
                #expect(response.status == .ok)
                let stats = try JSONDecoder().decode(FarmStats.self, from: Data(buffer: response.body))
                #expect(stats.activeVideos == 0)
            }
        }
    }
}

extension JSONDecoder {
    /// Decodes the API's JSON (dates as Hummingbird encodes them).
    static var farm: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
