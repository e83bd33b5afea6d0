import FarmModel
import FarmProtocol
import Foundation
import Hummingbird
import Prometheus

extension VideoStatus: ResponseEncodable {}
extension AgentStatus: ResponseEncodable {}
extension FarmStats: ResponseEncodable {}

/// The coordinator's HTTP façade: submit, follow and cancel videos; list
/// agents; serve finished outputs.
struct FarmAPI: Sendable {
    let engine: FarmEngine
    let metrics: PrometheusCollectorRegistry
    let publishedDirectory: URL
    let maxRequestBytes: Int

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.post("/v1/videos", use: submit)
        router.get("/v1/videos", use: list)
        router.get("/v1/videos/:id", use: status)
        router.delete("/v1/videos/:id", use: cancel)
        router.get("/v1/videos/:id/**", use: output)
        router.get("/v1/agents") { _, _ in await engine.agentStatuses() }
        router.get("/v1/stats") { _, _ in await engine.stats() }
        router.get("/metrics") { [metrics] _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
        }
        return router
    }

    @Sendable func submit(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<VideoStatus> {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxRequestBytes)
        } catch {
            throw HTTPError(.contentTooLarge, message: "the request is larger than \(maxRequestBytes) bytes")
        }
        var submission: SubmitRequest
        do {
            submission = try JSONDecoder().decode(SubmitRequest.self, from: Data(buffer: body))
        } catch {
            throw HTTPError(.badRequest, message: "the body is not a valid submission: \(error)")
        }
        if submission.idempotencyKey == nil, let key = request.headers[.init("Idempotency-Key")!] {
            submission.idempotencyKey = key
        }
        do {
            let status = try await engine.submit(submission)
            return EditedResponse(status: .created, headers: [.location: "/v1/videos/\(status.id)"], response: status)
        } catch {
            switch error {
            case .notPersisted, .invalidScript(.parserBusy): throw HTTPError(.serviceUnavailable, message: error.description)
            case .scriptTooLarge: throw HTTPError(.contentTooLarge, message: error.description)
            default: throw HTTPError(.unprocessableContent, message: error.description)
            }
        }
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> [VideoStatus] {
        let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 50
        return try await engine.recentVideos(limit: min(max(limit, 1), 500))
    }

    @Sendable func status(_ request: Request, context: BasicRequestContext) async throws -> VideoStatus {
        let id = try context.parameters.require("id")
        guard let status = await engine.status(videoID: id) else { throw HTTPError(.notFound, message: "no video \(id)") }
        return status
    }

    @Sendable func cancel(_ request: Request, context: BasicRequestContext) async throws -> VideoStatus {
        let id = try context.parameters.require("id")
        _ = await engine.cancel(videoID: id)
        guard let status = await engine.status(videoID: id) else { throw HTTPError(.notFound, message: "no video \(id)") }
        return status
    }

    @Sendable func output(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let parts = context.parameters.getCatchAll().map(String.init)
        guard !id.contains("/"), !id.hasPrefix("."), !parts.isEmpty,
              parts.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") && !$0.contains("/") }) else {
            throw HTTPError(.notFound)
        }
        let path = parts.reduce(publishedDirectory.appendingPathComponent(id)) { $0.appendingPathComponent($1) }.path
        let body: ResponseBody
        do {
            body = try await FileIO().loadFile(path: path, context: context)
        } catch {
            throw HTTPError(.notFound)
        }
        return Response(status: .ok, headers: [.contentType: Self.contentType(of: path)], body: body)
    }

    static func contentType(of path: String) -> String {
        switch URL(fileURLWithPath: path).pathExtension {
        case "m3u8": "application/vnd.apple.mpegurl"
        case "m4s": "video/iso.segment"
        case "mp4": "video/mp4"
        default: "application/octet-stream"
        }
    }
}
