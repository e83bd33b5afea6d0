import FarmModel
import FarmTracing
import Foundation
import Hummingbird
import HummingbirdAuth
import ServiceContextModule

/// Videos: a team sees its own; another team's video answers 404, exactly as a missing one.
extension FarmAPI {
    @Sendable func submit(_ request: Request, context: FarmRequestContext) async throws -> EditedResponse<VideoStatus> {
        let identity = try context.requireIdentity()
        var submission = try await decodeBody(request, as: SubmitRequest.self, what: "submission")
        if submission.idempotencyKey == nil, let key = request.headers[.init("Idempotency-Key")!] {
            submission.idempotencyKey = key
        }
        if let key = submission.idempotencyKey, !(1...200).contains(key.utf8.count) {
            throw HTTPError(.badRequest, message: "an idempotency key has 1 to 200 bytes")
        }
        if let submitter = submission.submitter, submitter != identity.user.name {
            throw HTTPError(.forbidden, message: "the submitter is the API key's user (\(identity.user.name)); leave `submitter` out")
        }
        try checkPriority(submission.priority, of: identity)
        if settings.requireAuth {
            let refusal: QuotaRefusal?
            do {
                // Bounded: with the database down, the answer is a prompt 503, not a hung request.
                refusal = try await withDeadline(Self.storeDeadline) { [accounts] in
                    try await SubmissionQuotas(store: accounts.store).check(identity.team)
                }
            } catch {
                throw HTTPError(.serviceUnavailable, message: "the team's quotas could not be checked, nothing was accepted: \(error)")
            }
            if let refusal {
                guard let retryAfter = refusal.retryAfter else { throw HTTPError(.forbidden, message: refusal.description) }
                throw HTTPError(.tooManyRequests, headers: [.retryAfter: "\(retryAfter)"], message: refusal.description)
            }
        }
        let owner = VideoOwner(teamID: identity.team.id, userID: identity.user.id, name: identity.user.name,
                               concurrentVideos: settings.requireAuth ? identity.team.quotas.concurrentVideos : nil)
        do {
            // Inside the request's span (TracingMiddleware): the video's trace starts here.
            let status = try await engine.submit(submission, owner: owner, traceParent: ServiceContext.current?.traceParent?.description)
            return EditedResponse(status: .created, headers: [.location: "/v1/videos/\(status.id)"], response: status)
        } catch {
            switch error {
            case .notPersisted, .invalidScript(.parserBusy): throw HTTPError(.serviceUnavailable, message: error.description)
            case .scriptTooLarge: throw HTTPError(.contentTooLarge, headers: [Self.fieldHeader: "script"], message: error.description)
            case .tooManyActiveVideos: throw HTTPError(.tooManyRequests, headers: [.retryAfter: "30"], message: error.description)
            default:
                var headers = HTTPFields()
                if let field = error.field { headers[Self.fieldHeader] = field }
                throw HTTPError(.unprocessableContent, headers: headers, message: error.description)
            }
        }
    }

    /// Refuses a priority out of range, or above a creator's cap.
    func checkPriority(_ priority: Int?, of identity: FarmIdentity) throws {
        let priority = priority ?? 0
        guard settings.priorityRange.contains(priority) else {
            throw HTTPError(.unprocessableContent, headers: [Self.fieldHeader: "priority"],
                            message: "priority must be between \(settings.priorityRange.lowerBound) and \(settings.priorityRange.upperBound)")
        }
        if identity.role < .operator, priority > settings.creatorMaxPriority {
            throw HTTPError(.forbidden, headers: [Self.fieldHeader: "priority"], message: "a \(identity.role.rawValue)'s videos run at priority \(settings.creatorMaxPriority) or lower; an operator can raise one")
        }
    }

    /// `GET /v1/videos?limit=N&cursor=ID[&team=ID]`: newest first, a page at a time, never a script.
    @Sendable func list(_ request: Request, context: FarmRequestContext) async throws -> VideoPage {
        let identity = try context.requireIdentity()
        let query = request.uri.queryParameters
        var limit = 50
        if let text = query.get("limit") {
            guard let value = Int(text), (1...500).contains(value) else {
                throw HTTPError(.badRequest, message: "limit must be a whole number between 1 and 500")
            }
            limit = value
        }
        let cursor = query.get("cursor")
        if let cursor, !Self.isVideoID(cursor) {
            throw HTTPError(.badRequest, message: "cursor must be the `next` value of an earlier page")
        }
        var team = identity.role >= .operator ? nil : identity.team.id
        if let asked = query.get("team") {
            guard identity.role >= .operator || asked == identity.team.id else {
                throw HTTPError(.forbidden, message: "only operators list other teams' videos")
            }
            team = asked
        }
        let rows = try await engine.videoSummaries(teamID: team, after: cursor, limit: limit + 1)
        let page = Array(rows.prefix(limit))
        return VideoPage(videos: page, next: rows.count > limit ? page.last?.id : nil)
    }

    /// One read of the video (clients poll this): its status says its team too.
    @Sendable func status(_ request: Request, context: FarmRequestContext) async throws -> VideoStatus {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("id")
        guard Self.isVideoID(id), let status = await engine.status(videoID: id), identity.mayRead(videoOfTeam: status.teamID) else {
            throw HTTPError(.notFound, message: "no video \(id)")
        }
        return await redacted(status, for: identity)
    }

    /// A script's traceback can quote its source and its data: only the video's owner (and
    /// operators) read the log tails; teammates see the error messages.
    func redacted(_ status: VideoStatus, for identity: FarmIdentity) async -> VideoStatus {
        guard identity.role < .operator, await engine.owner(videoID: status.id)?.userID != identity.user.id else { return status }
        var status = status
        for index in status.scenes.indices where status.scenes[index].error != nil {
            status.scenes[index].error?.logTail = ""
        }
        if status.plan?.error != nil { status.plan?.error?.logTail = "" }
        return status
    }

    @Sendable func cancel(_ request: Request, context: FarmRequestContext) async throws -> VideoStatus {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("id")
        guard let owner = await engine.owner(videoID: id), identity.mayRead(videoOfTeam: owner.teamID) else {
            throw HTTPError(.notFound, message: "no video \(id)")
        }
        guard identity.mayCancel(videoOfTeam: owner.teamID, user: owner.userID) else {
            throw HTTPError(.forbidden, message: "a \(identity.role.rawValue) may cancel only its own videos")
        }
        _ = await engine.cancel(videoID: id)
        guard let status = await engine.status(videoID: id) else { throw HTTPError(.notFound, message: "no video \(id)") }
        return status
    }

    @Sendable func output(_ request: Request, context: FarmRequestContext) async throws -> Response {
        let id = try await readableVideo(request, context)
        let parts = context.parameters.getCatchAll().map(String.init)
        guard !id.contains("/"), !id.hasPrefix("."), !parts.isEmpty,
              parts.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") && !$0.contains("/") }) else {
            throw HTTPError(.notFound, message: "no such file in video \(id)")
        }
        if let objects = objectOutputs, let s3 = objects.s3 {
            // The bytes are in the object store: send the caller there (the CDN, else a URL signed for an hour).
            let path = parts.joined(separator: "/")
            var target = objects.publicURL(videoID: id, path: path)
            if target == nil {
                target = try await s3.presignedGet(key: objects.outputKey(videoID: id, path: path), expires: 3_600)
                    .absoluteString
            }
            return Response(status: .found, headers: [.location: target ?? "", .cacheControl: "private, no-store"])
        }
        let path = parts.reduce(publishedDirectory.appendingPathComponent(id)) { $0.appendingPathComponent($1) }.path
        let body: ResponseBody
        do {
            body = try await FileIO().loadFile(path: path, context: context)
        } catch {
            throw HTTPError(.notFound, message: "video \(id) has no file \(parts.joined(separator: "/")) (yet)")
        }
        // Segments never change once published; a playlist grows while its video renders.
        let caching = path.hasSuffix(".m3u8") ? "private, no-cache" : "private, max-age=3600"
        return Response(status: .ok, headers: [.contentType: Self.contentType(of: path), .cacheControl: caching], body: body)
    }

    /// The `:id` of a video the caller may read; 404 for a missing video and another team's alike.
    func readableVideo(_ request: Request, _ context: FarmRequestContext) async throws -> String {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("id")
        guard Self.isVideoID(id), let owner = await engine.owner(videoID: id), identity.mayRead(videoOfTeam: owner.teamID) else {
            throw HTTPError(.notFound, message: "no video \(id)")
        }
        return id
    }

    static func isVideoID(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }

    static func contentType(of path: String) -> String {
        switch URL(fileURLWithPath: path).pathExtension {
        case "m3u8": "application/vnd.apple.mpegurl"
        case "m4s": "video/iso.segment"
        case "mp4": "video/mp4"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }
}
