import ArgumentParser
import FarmModel
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A thin client of the coordinator's HTTP API.
struct FarmClient: Sendable {
    let base: URL
    /// Sent as `Authorization: Bearer`; `nil` for a coordinator without authentication.
    var apiKey: String?

    enum ClientError: Error, CustomStringConvertible {
        case unreachable(String)
        case refused(status: Int, message: String)

        var description: String {
            switch self {
            case .unreachable(let why): "cannot reach the coordinator: \(why)"
            case .refused(_, let message): message
            }
        }

        var exitCode: ExitCode {
            switch self {
            case .unreachable: FarmExit.unreachable
            case .refused: FarmExit.refused
            }
        }
    }

    func submit(_ request: SubmitRequest) async throws -> VideoStatus {
        try await call("POST", "/v1/videos", body: try JSONEncoder().encode(request))
    }

    func status(_ id: String) async throws -> VideoStatus {
        try await call("GET", "/v1/videos/\(id)")
    }

    func generate(_ request: GenerationRequest) async throws -> GenerationRecord {
        try await call("POST", "/v1/generations", body: try JSONEncoder().encode(request))
    }

    func generation(_ id: String) async throws -> GenerationRecord {
        try await call("GET", "/v1/generations/\(id)")
    }

    func cancelGeneration(_ id: String) async throws -> GenerationRecord {
        try await call("DELETE", "/v1/generations/\(id)")
    }

    func cancel(_ id: String) async throws -> VideoStatus {
        try await call("DELETE", "/v1/videos/\(id)")
    }

    func agents() async throws -> [AgentStatus] {
        try await call("GET", "/v1/agents")
    }

    func me() async throws -> UserInfo {
        try await call("GET", "/v1/me")
    }

    func url(_ path: String) -> URL {
        URL(string: path, relativeTo: base)!.absoluteURL
    }

    func export(userID: String) async throws -> Data {
        try await send("GET", "/v1/users/\(userID)/export")
    }

    func erase(userID: String) async throws -> ErasureReport {
        try await call("DELETE", "/v1/users/\(userID)")
    }

    func expire(team: String, dryRun: Bool) async throws -> RetentionReport {
        try await call("POST", "/v1/teams/\(team)/expire", body: try JSONEncoder().encode(ExpireRequest(dryRun: dryRun)))
    }

    private func call<T: Decodable>(_ method: String, _ path: String, body: Data? = nil) async throws -> T {
        let data = try await send(method, path, body: body)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: data)
    }

    /// The body of a successful answer; refusals and failures as `ClientError`.
    private func send(_ method: String, _ path: String, body: Data? = nil) async throws -> Data {
        var request = URLRequest(url: url(path))
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 60
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw ClientError.unreachable("\(base.absoluteString): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            let message = (try? JSONDecoder().decode(ErrorBody.self, from: data))?.error.message
                ?? String(decoding: data.prefix(500), as: UTF8.self)
            if status >= 500 && status != 503 { throw ClientError.unreachable("HTTP \(status): \(message)") }
            if status == 401 && apiKey == nil {
                throw ClientError.refused(status: status, message: "\(message)\nNo API key was sent: pass --api-key, set FARM_API_KEY, or run `farm login`.")
            }
            throw ClientError.refused(status: status, message: message)
        }
        return data
    }
}

/// Hummingbird's error body: `{"error": {"message": ...}}`.
private struct ErrorBody: Decodable {
    struct Inner: Decodable { var message: String? }
    var error: Inner
}
