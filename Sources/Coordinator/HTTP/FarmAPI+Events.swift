import Crypto
import FarmModel
import Foundation
import Hummingbird
import Synchronization

/// `GET /v1/videos/{id}/events`: the video's status as Server-Sent Events, one
/// `status` event whenever it changes, until the video is final (then the stream
/// ends). An event's id is a digest of the status it carries, so a client that
/// reconnects with `Last-Event-ID` gets the status again only if it changed while
/// it was away. `?once=true` sends the current status and ends.
///
/// What a stream holds is bounded whatever the client does: one status, and a
/// write that waits for the client (a slow reader slows only its own stream; a
/// vanished one ends it). At most `EventStreams.limit` streams are open at once (one
/// more gets a `busy` event with a retry time), and each closes after
/// `EventStreams.lifetime` (the client reconnects and resumes).
extension FarmAPI {
    @Sendable func events(_ request: Request, context: FarmRequestContext) async throws -> Response {
        let id = try await readableVideo(request, context)
        let identity = try context.requireIdentity()
        let api = self
        let once = request.uri.queryParameters.get("once") == "true"
        let lastSeen = request.headers[.init("Last-Event-ID")!].map { String($0.prefix(64)) }
        let (engine, streams) = (engine, eventStreams)
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-store", .init("X-Accel-Buffering")!: "no"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // Counted only while the body is written, so a stream that never starts holds no place.
            guard streams.open() else {
                try await writer.write(ByteBuffer(string: "retry: 5000\nevent: busy\ndata: {\"error\":\"too many event streams are open\"}\n\n"))
                return try await writer.finish(nil)
            }
            defer { streams.close() }
            var last = lastSeen
            var lastWrite = ContinuousClock.now
            let ends = ContinuousClock.now + EventStreams.lifetime
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            encoder.dateEncodingStrategy = .iso8601
            while ContinuousClock.now < ends {
                guard let read = await engine.status(videoID: id) else {
                    try await writer.write(ByteBuffer(string: "event: gone\ndata: {}\n\n"))
                    break
                }
                let status = await api.redacted(read, for: identity)
                let data = try encoder.encode(status)
                let digest = SHA256.hash(data: data).prefix(8).map { String(format: "%02x", $0) }.joined()
                if digest != last {
                    try await writer.write(ByteBuffer(string: "id: \(digest)\nevent: status\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
                    last = digest
                    lastWrite = .now
                } else if ContinuousClock.now - lastWrite > EventStreams.keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastWrite = .now
                }
                if once || status.state.isFinal { break }
                try await Task.sleep(for: EventStreams.poll)
            }
            try await writer.finish(nil)
        })
    }
}

/// Counts open event streams, so that their number (and the memory they hold) is bounded.
final class EventStreams: Sendable {
    static let limit = 512
    static let lifetime: Duration = .seconds(3_600)
    static let keepAlive: Duration = .seconds(15)
    static let poll: Duration = .milliseconds(250)
    private let count = Mutex(0)

    func open() -> Bool {
        count.withLock { count in
            guard count < Self.limit else { return false }
            count += 1
            return true
        }
    }

    func close() {
        count.withLock { $0 -= 1 }
    }

    var openStreams: Int { count.withLock { $0 } }
}
