import FarmModel
import Foundation
import Hummingbird

/// Videos from prompts: a generation job is its owner's (and operators'); anyone else gets 404, as for a missing one.
extension FarmAPI {
    /// `POST /v1/generations`: 202 with the job; it writes, checks and submits the script in the background.
    @Sendable func generate(_ request: Request, context: FarmRequestContext) async throws -> EditedResponse<GenerationRecord> {
        let identity = try context.requireIdentity()
        let body = try await decodeBody(request, as: GenerationRequest.self, what: "generation request")
        guard let generations, generations.isEnabled else { throw HTTPError(.forbidden, message: GenerationError.disabled.description) }
        try checkPriority(body.priority, of: identity)
        let owner = VideoOwner(teamID: identity.team.id, userID: identity.user.id, name: identity.user.name, concurrentVideos: nil)
        do {
            let job = try await generations.submit(body, owner: owner, quotas: settings.requireAuth ? identity.team.quotas : nil)
            return EditedResponse(status: .accepted, headers: [.location: "/v1/generations/\(job.id)"], response: job)
        } catch {
            switch error {
            case .disabled: throw HTTPError(.forbidden, message: error.description)
            case .invalid(let why, let field): throw HTTPError(.unprocessableContent, headers: [Self.fieldHeader: field], message: why)
            case .overBudget(let why, let retryAfter): throw HTTPError(.tooManyRequests, headers: [.retryAfter: "\(retryAfter)"], message: why)
            case .tooManyActive: throw HTTPError(.tooManyRequests, headers: [.retryAfter: "30"], message: error.description)
            case .unavailable(let why): throw HTTPError(.serviceUnavailable, message: why)
            }
        }
    }

    /// `GET /v1/generations/{id}`: the job with every round (prompt, script, error).
    @Sendable func generation(_ request: Request, context: FarmRequestContext) async throws -> GenerationRecord {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("id")
        guard let generations else { throw HTTPError(.notFound, message: "no generation \(id.prefix(40))") }
        let job: GenerationRecord?
        do { job = try await generations.generation(id: id) } catch {
            throw HTTPError(.serviceUnavailable, message: "the store did not answer: \(error)")
        }
        guard let job, identity.role >= .operator || job.userID == identity.user.id else {
            throw HTTPError(.notFound, message: "no generation \(id.prefix(40))")
        }
        return job
    }

    /// `GET /v1/generations?limit=N`: the caller's jobs, newest first.
    @Sendable func listGenerations(_ request: Request, context: FarmRequestContext) async throws -> GenerationPage {
        let identity = try context.requireIdentity()
        var limit = 20
        if let text = request.uri.queryParameters.get("limit") {
            guard let value = Int(text), (1...200).contains(value) else {
                throw HTTPError(.badRequest, message: "limit must be a whole number between 1 and 200")
            }
            limit = value
        }
        guard let generations else { return GenerationPage(generations: []) }
        do {
            return GenerationPage(generations: try await generations.generations(userID: identity.user.id, limit: limit))
        } catch {
            throw HTTPError(.serviceUnavailable, message: "the store did not answer: \(error)")
        }
    }
}

extension FarmAPI {
    /// `DELETE /v1/generations/{id}`: stops the job (its check or video is cancelled with it); a job that has ended
    /// is answered as it is.
    @Sendable func cancelGeneration(_ request: Request, context: FarmRequestContext) async throws -> GenerationRecord {
        let identity = try context.requireIdentity()
        let job = try await generation(request, context: context)  // 404 unless the caller's or an operator's
        guard let generations else { throw HTTPError(.notFound, message: "no generation \(job.id)") }
        do {
            return try await generations.cancel(id: job.id, by: identity.user.name) ?? job
        } catch {
            throw HTTPError(.serviceUnavailable, message: "the store did not answer: \(error)")
        }
    }
}
