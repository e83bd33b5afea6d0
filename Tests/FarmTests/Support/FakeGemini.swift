import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// A local stand-in for Gemini's REST API (no network is reachable here): `POST /v1beta/models/{model}:generateContent`
/// with the key in `x-goog-api-key`, answering in Gemini's JSON (candidates, usage, Google's error bodies with
/// `RetryInfo`) from a script of answers the test writes. It records every request it was sent.
final class FakeGemini: Sendable {
    enum Answer: Sendable {
        /// A candidate whose text is `text` (a script in a fenced block, usually).
        case text(String, promptTokens: Int = 1_200, outputTokens: Int = 300)
        /// 429 RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` detail asking for `retryDelay` (`"1.5s"`).
        case rateLimited(retryDelay: String)
        /// Any status with Google's error body.
        case error(status: Int, googleStatus: String, message: String)
        /// A body that is not JSON, with status 200.
        case malformed(String)
        /// A prompt the provider blocks.
        case blocked(String)
        /// `answer`, after `delay`.
        indirect case slow(Duration, Answer)
    }

    struct Received: Sendable {
        var model: String
        var key: String?
        var data: Data
        var at: ContinuousClock.Instant

        var body: [String: Any] { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:] }
        var contents: [[String: Any]] { body["contents"] as? [[String: Any]] ?? [] }
        /// The text of the last turn (the current request).
        var lastText: String { Self.text(contents.last) }
        var system: String { Self.text(body["systemInstruction"] as? [String: Any]) }
        var roles: [String] { contents.compactMap { $0["role"] as? String } }

        static func text(_ content: [String: Any]?) -> String {
            (content?["parts"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined()
        }
    }

    let key = "fake-gemini-key-\(UUID().uuidString.prefix(8))"
    private let script = Mutex<[Answer]>([])
    /// What is answered once the script is used up.
    private let fallback: Mutex<Answer>
    private let log = Mutex<[Received]>([])
    private let port = Mutex<Int?>(nil)

    init(fallback: Answer = .error(status: 500, googleStatus: "INTERNAL", message: "the test's script of answers is used up")) {
        self.fallback = Mutex(fallback)
    }

    var requests: [Received] { log.withLock { $0 } }
    func answer(_ answers: Answer...) { script.withLock { $0 += answers } }
    func answerFromNowOn(_ answer: Answer) { fallback.withLock { $0 = answer } }

    /// Serves until `body` returns; `body` gets the endpoint (`http://127.0.0.1:PORT`).
    func serve<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/v1beta/models/:call") { request, context -> Response in
            try await self.respond(request, call: context.parameters.get("call") ?? "")
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in self.port.withLock { $0 = channel.localAddress?.port } },
                              logger: Logger(label: "test.fake-gemini"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            defer { group.cancelAll() }
            let deadline = ContinuousClock.now + .seconds(10)
            while port.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            guard let bound = port.withLock({ $0 }) else { throw CancellationError() }
            return try await body("http://127.0.0.1:\(bound)")
        }
    }

    private func respond(_ request: Request, call: String) async throws -> Response {
        guard call.hasSuffix(":generateContent") else { return Self.google(404, "NOT_FOUND", "no method \(call)") }
        var request = request
        let data = Data(buffer: try await request.collectBody(upTo: 8 << 20))
        let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let sent = request.headers[HTTPField.Name("x-goog-api-key")!]
        log.withLock { $0.append(Received(model: String(call.dropLast(":generateContent".count)), key: sent,
                                          data: data, at: .now)) }
        guard sent == key else {
            return Self.google(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        }
        guard body["contents"] is [[String: Any]] else { return Self.google(400, "INVALID_ARGUMENT", "contents is required") }
        let next = script.withLock { $0.isEmpty ? nil : $0.removeFirst() } ?? fallback.withLock { $0 }
        return try await Self.response(next)
    }

    private static func response(_ answer: Answer) async throws -> Response {
        switch answer {
        case .text(let text, let promptTokens, let outputTokens):
            let body: [String: Any] = [
                "candidates": [["content": ["role": "model", "parts": [["text": text]]], "finishReason": "STOP", "index": 0]],
                "usageMetadata": ["promptTokenCount": promptTokens, "candidatesTokenCount": outputTokens,
                                  "totalTokenCount": promptTokens + outputTokens],
                "modelVersion": "fake",
            ]
            return json(200, body)
        case .rateLimited(let delay):
            return json(429, ["error": [
                "code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
                "details": [["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay]],
            ]])
        case .error(let status, let googleStatus, let message):
            return google(status, googleStatus, message)
        case .malformed(let text):
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        case .blocked(let reason):
            return json(200, ["promptFeedback": ["blockReason": reason], "usageMetadata": ["promptTokenCount": 10]])
        case .slow(let delay, let then):
            try await Task.sleep(for: delay)
            return try await response(then)
        }
    }

    private static func google(_ status: Int, _ googleStatus: String, _ message: String) -> Response {
        json(status, ["error": ["code": status, "message": message, "status": googleStatus]])
    }

    private static func json(_ status: Int, _ body: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
        return Response(status: .init(code: status), headers: [.contentType: "application/json; charset=UTF-8"],
                        body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// `text` as a model writes a script: a sentence, then a fenced block.
    static func script(_ code: String) -> Answer {
        .text("Here is the script:\n\n```python\n\(code)```\n")
    }
}
