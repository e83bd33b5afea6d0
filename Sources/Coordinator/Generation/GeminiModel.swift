import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Gemini over its public REST API: `POST {endpoint}/v1beta/models/{model}:generateContent` with the key in
/// `x-goog-api-key`. Each call has a deadline of its own; rate limits (429, honouring the `RetryInfo` delay the
/// answer names) and server errors (5xx), timeouts and unreadable answers are retried with capped, jittered
/// exponential backoff; anything else the provider refuses is final at once.
public struct GeminiModel: ScriptModel {
    public struct Configuration: Sendable {
        public var endpoint: URL
        public var model: String
        public var apiKey: GenerationSecret
        /// How long one call may take before it is abandoned (and retried).
        public var timeout: Duration
        /// Calls per answer, the first included.
        public var attempts: Int
        public var baseDelay: Duration
        public var maxDelay: Duration
        /// The longest wait a rate limit may ask for that the farm honours; longer ends the call.
        public var maxRetryDelay: Duration
        public var maxOutputTokens: Int
        public var temperature: Double
        public var prices: ModelPrices

        public static let defaultEndpoint = URL(string: "https://generativelanguage.googleapis.com")!
        public static let defaultModel = "gemini-2.5-flash"

        public init(endpoint: URL = defaultEndpoint, model: String = defaultModel, apiKey: GenerationSecret,
                    timeout: Duration = .seconds(120), attempts: Int = 4, baseDelay: Duration = .seconds(1),
                    maxDelay: Duration = .seconds(30), maxRetryDelay: Duration = .seconds(90), maxOutputTokens: Int = 16_384,
                    temperature: Double = 0.4, prices: ModelPrices = ModelPrices(inputPerMillion: 0.30, outputPerMillion: 2.50)) {
            self.endpoint = endpoint
            self.model = model
            self.apiKey = apiKey
            self.timeout = timeout
            self.attempts = max(attempts, 1)
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
            self.maxRetryDelay = maxRetryDelay
            self.maxOutputTokens = maxOutputTokens
            self.temperature = temperature
            self.prices = prices
        }
    }

    public let configuration: Configuration
    public var provider: String { "gemini" }
    public var model: String { configuration.model }
    public var prices: ModelPrices { configuration.prices }
    private let session: URLSession
    /// An answer larger than this is not a script.
    static let maxAnswerBytes = 4 << 20

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        // A backstop only: each call's own deadline (`send`) ends it first.
        sessionConfiguration.timeoutIntervalForRequest = Self.seconds(configuration.timeout) + 5
        session = URLSession(configuration: sessionConfiguration)
    }

    public func write(system: String, conversation: [ModelTurn]) async throws(ModelFailure) -> ModelReply {
        let body = GenerateContentRequest(
            systemInstruction: .init(role: nil, parts: [.init(text: system)]),
            contents: conversation.map { .init(role: $0.speaker == .person ? "user" : "model", parts: [.init(text: $0.text)]) },
            generationConfig: .init(temperature: configuration.temperature, maxOutputTokens: configuration.maxOutputTokens))
        let encoded: Data
        do { encoded = try JSONEncoder().encode(body) } catch { throw .malformed("the request could not be encoded: \(error)") }
        var attempt = 0
        while true {
            attempt += 1
            let outcome = await call(encoded)
            let retryable: ModelFailure
            var wait: Duration?
            switch outcome {
            case .success(let reply):
                return reply
            case .failure(.final(let failure)):
                throw failure
            case .failure(.rateLimited(let asked, let message)):
                if let asked, asked > configuration.maxRetryDelay {
                    throw .rateLimited(retryAfter: Self.seconds(asked), message: message)
                }
                retryable = .rateLimited(retryAfter: asked.map(Self.seconds), message: message)
                wait = asked
            case .failure(.transient(let failure)):
                retryable = failure
            }
            guard attempt < configuration.attempts else {
                if case .timeout = retryable { throw .timeout(seconds: Self.seconds(configuration.timeout), attempts: attempt) }
                throw retryable
            }
            do {
                try await Task.sleep(for: wait ?? backoff(before: attempt + 1))
            } catch {
                throw .unavailable("cancelled while waiting to retry")
            }
        }
    }

    private enum CallFailure: Error {
        case final(ModelFailure)
        case transient(ModelFailure)
        case rateLimited(Duration?, String)
    }

    /// One call: its answer, or why there was none and whether another call may do better.
    private func call(_ body: Data) async -> Result<ModelReply, CallFailure> {
        let key: String
        do { key = try configuration.apiKey.read() } catch { return .failure(.final(.refused(status: 0, message: "\(error)"))) }
        var url = configuration.endpoint
        url.appendPathComponent("v1beta/models/\(configuration.model):generateContent")
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(key, forHTTPHeaderField: "x-goog-api-key")
        request.httpBody = body
        switch await send(request) {
        case .failure(.timedOut):
            return .failure(.transient(.timeout(seconds: Self.seconds(configuration.timeout), attempts: 1)))
        case .failure(.network(let why)):
            return .failure(.transient(.unavailable("\(url.host ?? "the provider") could not be reached: \(why)")))
        case .success(let (data, response)):
            return Self.read(data, response)
        }
    }

    /// What an HTTP answer means, by its status and body.
    private static func read(_ data: Data, _ response: HTTPURLResponse) -> Result<ModelReply, CallFailure> {
        guard data.count <= maxAnswerBytes else { return .failure(.transient(.malformed("the answer is larger than \(maxAnswerBytes >> 20) MiB"))) }
        let status = response.statusCode
        guard (200..<300).contains(status) else {
            let error = try? JSONDecoder().decode(GeminiErrorBody.self, from: data)
            let message = String((error?.error.message ?? String(decoding: data.prefix(300), as: UTF8.self)).prefix(500))
            switch status {
            case 429:
                let asked = error?.error.retryDelay ?? response.value(forHTTPHeaderField: "Retry-After").flatMap(GeminiErrorBody.duration)
                return .failure(.rateLimited(asked, message))
            case 500...599, 408:
                return .failure(.transient(.unavailable("HTTP \(status): \(message)")))
            default:
                return .failure(.final(.refused(status: status, message: message)))
            }
        }
        let answer: GenerateContentResponse
        do {
            answer = try JSONDecoder().decode(GenerateContentResponse.self, from: data)
        } catch {
            return .failure(.transient(.malformed("not the JSON of a generateContent answer (\(String(decoding: data.prefix(80), as: UTF8.self).debugDescription))")))
        }
        if let reason = answer.promptFeedback?.blockReason {
            return .failure(.final(.blocked("the prompt was blocked (\(reason))")))
        }
        guard let candidate = answer.candidates?.first else {
            return .failure(.transient(.malformed("the answer has no candidates")))
        }
        let text = (candidate.content?.parts ?? []).compactMap(\.text).joined()
        guard !text.isEmpty else {
            if let reason = candidate.finishReason, reason != "STOP", reason != "MAX_TOKENS" {
                return .failure(.final(.blocked("no text (finish reason \(reason))")))
            }
            return .failure(.transient(.malformed("the candidate has no text")))
        }
        let usage = answer.usageMetadata
        // Counts from outside: clamped before anything adds them up.
        let output = clamp(usage?.candidatesTokenCount).addingReportingOverflow(clamp(usage?.thoughtsTokenCount))
        return .success(ModelReply(text: text, promptTokens: clamp(usage?.promptTokenCount),
                                   outputTokens: output.overflow ? Self.maxTokens : min(output.partialValue, Self.maxTokens)))
    }

    static let maxTokens = 100_000_000
    private static func clamp(_ count: Int?) -> Int { min(max(count ?? 0, 0), maxTokens) }

    /// Full jitter: uniformly between 0 and min(max, base·2^(n-2)).
    private func backoff(before attempt: Int) -> Duration {
        let ceiling = min(configuration.baseDelay * (1 << min(attempt - 2, 20)), configuration.maxDelay)
        let milliseconds = Int64(Self.seconds(ceiling) * 1_000)
        return .milliseconds(Int64.random(in: 0...max(milliseconds, 1)))
    }

    private enum Transport: Error {
        case timedOut
        case network(String)
    }

    /// Sends `request`, abandoning it after the configured timeout (and when the caller is cancelled).
    private func send(_ request: URLRequest) async -> Result<(Data, HTTPURLResponse), Transport> {
        let call = PendingCall()
        let timeout = configuration.timeout
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                call.waiting.withLock { $0 = continuation }
                let dataTask = session.dataTask(with: request) { data, response, error in
                    if let http = response as? HTTPURLResponse, error == nil {
                        call.finish(.success((data ?? Data(), http)))
                    } else {
                        call.finish(.failure(.network(error?.localizedDescription ?? "no HTTP answer")))
                    }
                }
                call.task.withLock { $0 = dataTask }
                let deadline = Task {
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    call.finish(.failure(.timedOut))
                }
                call.timer.withLock { $0 = deadline }
                dataTask.resume()
            }
        } onCancel: {
            call.finish(.failure(.network("cancelled")))
        }
    }

    /// One call in flight: whichever ends it first (the answer, the deadline, cancellation) resumes its waiter,
    /// once, and stops the others.
    private final class PendingCall: Sendable {
        let waiting = Mutex<CheckedContinuation<Result<(Data, HTTPURLResponse), Transport>, Never>?>(nil)
        let task = Mutex<URLSessionDataTask?>(nil)
        let timer = Mutex<Task<Void, Never>?>(nil)

        func finish(_ result: Result<(Data, HTTPURLResponse), Transport>) {
            let continuation = waiting.withLock { waiting in
                defer { waiting = nil }
                return waiting
            }
            guard let continuation else { return }
            continuation.resume(returning: result)
            timer.withLock { $0?.cancel() }
            if case .failure = result { task.withLock { $0?.cancel() } }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
