import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Puts and gets objects with presigned URLs of the object store, from a thread
/// of the agent's own (which it blocks). `Content-MD5` makes the store refuse a
/// body damaged on the way. Transient failures (network, 5xx, 429, SlowDown)
/// are retried with jittered backoff; a render falls back to the coordinator's
/// ZeroMQ path when every try failed.
enum ObjectUpload {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        return URLSession(configuration: configuration)
    }()

    /// Returns the body's lower-case hex MD5 once the store has it.
    static func put(_ data: Data, to url: URL, attempts: Int = 4) throws -> String {
        let md5 = Insecure.MD5.hash(data: data)
        var request = URLRequest(url: url)
        request.httpMethod = "PUT"
        request.httpBody = data
        request.setValue(Data(md5).base64EncodedString(), forHTTPHeaderField: "Content-MD5")
        request.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
        _ = try send(request, attempts: attempts, what: "upload to")
        return md5.map { String(format: "%02x", $0) }.joined()
    }

    /// Gets an object that must be exactly `size` bytes.
    static func get(_ url: URL, size: Int, attempts: Int = 4) throws -> Data {
        let body = try send(URLRequest(url: url), attempts: attempts, what: "download from")
        guard body.count == size else {
            throw Failure(description: "the object store answered \(body.count) bytes for an object of \(size)")
        }
        return body
    }

    private static func send(_ request: URLRequest, attempts: Int, what: String) throws -> Data {
        var last = "no attempt"
        for attempt in 1...max(attempts, 1) {
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var outcome: (status: Int, body: Data, error: (any Error)?) = (0, Data(), nil)
            session.dataTask(with: request) { body, response, error in
                outcome = ((response as? HTTPURLResponse)?.statusCode ?? 0, body ?? Data(), error)
                done.signal()
            }.resume()
            done.wait()
            if (200..<300).contains(outcome.status) { return outcome.body }
            let text = String(decoding: outcome.body.prefix(512), as: UTF8.self)
            last = outcome.error.map { $0.localizedDescription } ?? "HTTP \(outcome.status): \(text)"
            let transient = outcome.status == 0 || outcome.status == 429 || outcome.status >= 500 || text.contains("SlowDown")
            guard transient, attempt < attempts else { break }
            Thread.sleep(forTimeInterval: Double.random(in: 0...(0.2 * Double(1 << (attempt - 1)))))
        }
        throw Failure(description: "\(what) the object store failed: \(last)")
    }
}
