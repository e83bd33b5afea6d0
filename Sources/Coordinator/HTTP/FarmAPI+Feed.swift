import Crypto
import FarmModel
import Foundation
import Hummingbird
import Synchronization

/// `GET /v1/events`: every video the caller may read, as Server-Sent Events: a `video` event
/// (a `VideoSummary` with its progress) each time a video not yet final changes, and once more
/// when it ends (`?once=true`: the live videos now, then the stream ends). Event ids are the coordinator's clock in milliseconds; a client that reconnects
/// with `Last-Event-ID` first gets the videos that ended while it was away, then the live ones.
///
/// Bounded like the per-video stream (`EventStreams`: same places, lifetime and keep-alive). What
/// a stream holds is one digest per live video it may read; the live videos are read once per
/// tick for all streams together (`LiveFeed`), so a thousand open dashboards cost one read.
extension FarmAPI {
    @Sendable func feed(_ request: Request, context: FarmRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let once = request.uri.queryParameters.get("once") == "true"
        let resumeAfter = request.headers[.init("Last-Event-ID")!].flatMap { Int64($0.prefix(20)) }
        let (engine, streams, live) = (engine, eventStreams, liveFeed)
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-store", .init("X-Accel-Buffering")!: "no"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            guard streams.open() else {
                try await writer.write(ByteBuffer(string: "retry: 5000\nevent: busy\ndata: {\"error\":\"too many event streams are open\"}\n\n"))
                return try await writer.finish(nil)
            }
            defer { streams.close() }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            encoder.dateEncodingStrategy = .iso8601
            func send(_ summary: VideoSummary) async throws {
                let data = try encoder.encode(summary)
                let id = Int64(Date().timeIntervalSince1970 * 1000)
                try await writer.write(ByteBuffer(string: "id: \(id)\nevent: video\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
            }
            // Videos sent as final: a snapshot up to `LiveFeed.freshFor` old may still list them as live.
            var ended = Set<String>()
            if let resumeAfter {
                let since = Date(timeIntervalSince1970: Double(resumeAfter) / 1000)
                let team = identity.role >= .operator ? nil : identity.team.id
                let recent = (try? await engine.videoSummaries(teamID: team, after: nil, limit: 100)) ?? []
                for summary in recent.reversed() where summary.state.isFinal && summary.updatedAt > since {
                    try await send(summary)
                    ended.insert(summary.id)
                }
            }
            var seen: [String: Data] = [:]
            var lastWrite = ContinuousClock.now
            let ends = ContinuousClock.now + EventStreams.lifetime
            while ContinuousClock.now < ends {
                let snapshot = await live.snapshot(engine)
                ended.formIntersection(snapshot.map(\.id))  // kept only while a stale snapshot could list them
                let videos = snapshot.filter { identity.mayRead(videoOfTeam: $0.teamID) && !ended.contains($0.id) }
                var now: [String: Data] = [:]
                for summary in videos {
                    let digest = Data(SHA256.hash(data: try encoder.encode(summary)))
                    now[summary.id] = digest
                    if seen[summary.id] != digest {
                        try await send(summary)
                        lastWrite = .now
                    }
                }
                // A video that left the live set has ended: say how, once.
                for id in seen.keys where now[id] == nil {
                    if let status = await engine.status(videoID: id), status.state.isFinal {
                        try await send(FarmEngine.summary(of: status))
                        ended.insert(id)
                        lastWrite = .now
                    }
                }
                seen = now
                if once { break }
                if ContinuousClock.now - lastWrite > EventStreams.keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastWrite = .now
                }
                try await Task.sleep(for: EventStreams.poll)
            }
            try await writer.finish(nil)
        })
    }
}

/// The live videos, read from the engine at most once per `freshFor` whatever the number of streams.
final class LiveFeed: Sendable {
    static let freshFor: Duration = .milliseconds(200)
    private let cached = Mutex<(at: ContinuousClock.Instant, videos: [VideoSummary])?>(nil)

    func snapshot(_ engine: FarmEngine) async -> [VideoSummary] {
        if let cached = cached.withLock({ $0 }), ContinuousClock.now - cached.at < Self.freshFor { return cached.videos }
        let videos = await engine.liveSummaries()
        cached.withLock { $0 = (.now, videos) }
        return videos
    }
}
