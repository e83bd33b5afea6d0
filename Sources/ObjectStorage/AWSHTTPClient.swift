import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The one HTTP client AWS calls go through (S3 and Auto Scaling alike): a
/// bounded time per request, and retries with capped, jittered exponential
/// backoff on what is worth retrying (network errors, 5xx, 429, SlowDown,
/// throttling). Every retry is signed afresh by `build`.
public final class AWSHTTPClient: Sendable {
    public struct RetryPolicy: Sendable {
        public var attempts: Int
        public var baseDelay: Duration
        public var maxDelay: Duration

        public init(attempts: Int = 5, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(5)) {
            self.attempts = max(attempts, 1)
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
        }
    }

    public let retry: RetryPolicy
    public let timeout: TimeInterval
    private let session: URLSession

    public init(retry: RetryPolicy = RetryPolicy(), timeout: TimeInterval = 30) {
        self.retry = retry
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpMaximumConnectionsPerHost = 16
        session = URLSession(configuration: configuration)
    }

    /// The process-wide client the coordinator's AWS callers share.
    public static let shared = AWSHTTPClient()

    /// Sends the request `build` makes, again after a transient failure, and
    /// returns the first answer that is not one; a non-2xx answer throws
    /// `AWSError` with the service's code and message.
    public func send(_ build: @Sendable () async throws -> URLRequest) async throws -> (Data, HTTPURLResponse) {
        var attempt = 0
        while true {
            attempt += 1
            do {
                var request = try await build()
                request.timeoutInterval = timeout
                let data: Data, response: URLResponse
                do {
                    (data, response) = try await session.data(for: request)
                } catch {
                    // The reason in words (never the URL's query, which may hold a signature).
                    throw AWSError(status: 0, code: "NetworkError",
                                   message: "\(request.httpMethod ?? "") \(request.url?.host ?? "")\(request.url?.path ?? ""): \(error.localizedDescription)")
                }
                guard let http = response as? HTTPURLResponse else {
                    throw AWSError(status: 0, code: "NetworkError", message: "not an HTTP response")
                }
                guard (200..<300).contains(http.statusCode) else { throw Self.error(http.statusCode, data) }
                return (data, http)
            } catch let error as AWSError where error.isTransient && attempt < retry.attempts {
                try await Task.sleep(for: delay(before: attempt + 1))
            }
        }
    }

    /// Full jitter: uniformly between 0 and min(max, base·2^(n-2)).
    func delay(before attempt: Int) -> Duration {
        let ceiling = min(retry.baseDelay * (1 << min(attempt - 2, 20)), retry.maxDelay)
        let milliseconds = ceiling.components.seconds * 1_000 + ceiling.components.attoseconds / 1_000_000_000_000_000
        return .milliseconds(Int64.random(in: 0...max(milliseconds, 1)))
    }

    /// An error answer's `<Code>` and `<Message>` (S3 and the Query APIs both answer in XML).
    static func error(_ status: Int, _ data: Data) -> AWSError {
        let text = String(decoding: data.prefix(4_096), as: UTF8.self)
        return AWSError(status: status, code: XMLValues.first("Code", in: text) ?? (status == 404 ? "NotFound" : "HTTP\(status)"),
                        message: XMLValues.first("Message", in: text) ?? String(text.prefix(300)))
    }
}

/// Reads values out of the small, known XML answers of AWS APIs.
public enum XMLValues {
    /// Every `<name>value</name>` in order.
    public static func all(_ name: String, in xml: String) -> [String] {
        var result: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(name)>"), let close = rest[open.upperBound...].range(of: "</\(name)>") {
            result.append(unescape(String(rest[open.upperBound..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return result
    }

    public static func first(_ name: String, in xml: String) -> String? { all(name, in: xml).first }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#34;", with: "\"")
            .replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
