import FarmModel
import Foundation
import Hummingbird
import HummingbirdAuth

/// Accounts over the API: admins manage teams and users; everyone manages its own keys.
extension FarmAPI {
    @Sendable func me(_ request: Request, context: FarmRequestContext) async throws -> UserInfo {
        let identity = try context.requireIdentity()
        return UserInfo(identity.user, team: identity.team)
    }

    @Sendable func listTeams(_ request: Request, context: FarmRequestContext) async throws -> [TeamInfo] {
        try await accountCall { try await accounts.store.teams().map(TeamInfo.init) }
    }

    @Sendable func createTeam(_ request: Request, context: FarmRequestContext) async throws -> EditedResponse<TeamInfo> {
        let body = try await decodeBody(request, as: CreateTeamRequest.self, what: "team")
        let team = try await accountCall { try await accounts.createTeam(body) }
        return EditedResponse(status: .created, response: TeamInfo(team))
    }

    @Sendable func updateTeam(_ request: Request, context: FarmRequestContext) async throws -> TeamInfo {
        let name = try context.parameters.require("team")
        let body = try await decodeBody(request, as: UpdateTeamRequest.self, what: "team change")
        return TeamInfo(try await accountCall { try await accounts.updateTeam(name, body) })
    }

    /// `GET /v1/users[?team=ID]`.
    @Sendable func listUsers(_ request: Request, context: FarmRequestContext) async throws -> [UserInfo] {
        let teamFilter = request.uri.queryParameters.get("team")
        return try await accountCall {
            let teams = Dictionary(uniqueKeysWithValues: try await accounts.store.teams().map { ($0.id, $0) })
            var teamID: String?
            if let name = teamFilter {
                guard let team = try await accounts.store.team(name) else { throw AccountError.notFound("team \(name)") }
                teamID = team.id
            }
            return try await accounts.store.users(teamID: teamID).compactMap { user in
                teams[user.teamID].map { UserInfo(user, team: $0) }
            }
        }
    }

    @Sendable func createUser(_ request: Request, context: FarmRequestContext) async throws -> EditedResponse<UserInfo> {
        let body = try await decodeBody(request, as: CreateUserRequest.self, what: "user")
        let info = try await accountCall {
            try await accounts.userInfo(try await accounts.createUser(body))
        }
        return EditedResponse(status: .created, response: info)
    }

    /// `PATCH /v1/users/{id}` with `{"role": "operator"}`.
    @Sendable func updateUser(_ request: Request, context: FarmRequestContext) async throws -> UserInfo {
        let name = try context.parameters.require("user")
        let body = try await decodeBody(request, as: UpdateUserRequest.self, what: "user change")
        return try await accountCall { try await accounts.userInfo(try await accounts.updateUser(name, body)) }
    }

    @Sendable func listKeys(_ request: Request, context: FarmRequestContext) async throws -> [KeyInfo] {
        let user = try await managedUser(context)
        return try await accountCall { try await accounts.store.keys(userID: user.id).map(KeyInfo.init) }
    }

    /// A new key for the user: admins for anyone, everyone else for itself (key rotation without an admin).
    @Sendable func createKey(_ request: Request, context: FarmRequestContext) async throws -> EditedResponse<CreatedKey> {
        let user = try await managedUser(context)
        let body = try await decodeBody(request, as: CreateKeyRequest.self, what: "key request")
        let created = try await accountCall { try await accounts.createKey(for: user, request: body) }
        return EditedResponse(status: .created, response: created)
    }

    @Sendable func revokeKey(_ request: Request, context: FarmRequestContext) async throws -> KeyInfo {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("key")
        return try await accountCall {
            guard let key = try await accounts.store.key(id: id), identity.mayManageKeys(of: key.userID) else {
                throw AccountError.notFound("key \(id)")
            }
            return try await accounts.revokeKey(id: id)
        }
    }

    /// `DELETE /v1/users/{id}`: erases the user's data (the user itself, or an admin). Idempotent.
    @Sendable func eraseUser(_ request: Request, context: FarmRequestContext) async throws -> ErasureReport {
        let user = try await managedUser(context)
        let actor = context.identity
        return try await accountCall(deadline: nil) { try await personalData.erase(user, by: actor) }
    }

    /// `GET /v1/users/{id}/export`: everything held about the user, as a tar archive.
    @Sendable func exportUser(_ request: Request, context: FarmRequestContext) async throws -> Response {
        let user = try await managedUser(context)
        let archive = try await accountCall(deadline: nil) { try await personalData.export(user) }
        return Response(status: .ok, headers: [
            .contentType: "application/x-tar",
            .contentDisposition: "attachment; filename=\"manimfarm-\(user.id).tar\"",
        ], body: .init(byteBuffer: ByteBuffer(bytes: archive)))
    }

    /// `POST /v1/teams/{id}/expire` with `{"dryRun": true|false}`: the team's retention policy, now.
    @Sendable func expireTeam(_ request: Request, context: FarmRequestContext) async throws -> RetentionReport {
        let name = try context.parameters.require("team")
        let body = try await decodeBody(request, as: ExpireRequest.self, what: "expire request")
        return try await accountCall {
            guard let team = try await accounts.store.team(name) else { throw AccountError.notFound("team \(name)") }
            return try await personalData.expire(team, dryRun: body.dryRun)
        }
    }

    /// The `:user` whose keys and data the caller may manage; 404 for anyone else's, as for a missing user.
    private func managedUser(_ context: FarmRequestContext) async throws -> UserRecord {
        let identity = try context.requireIdentity()
        let name = try context.parameters.require("user")
        return try await accountCall {
            guard let user = try await accounts.store.user(name), identity.mayManageKeys(of: user.id) else {
                throw AccountError.notFound("user \(name)")
            }
            return user
        }
    }

    /// Runs an account operation within `deadline` (none for the long ones: erasure, export), answering
    /// its refusals with their status codes.
    private func accountCall<T: Sendable>(deadline: Duration? = Self.storeDeadline,
                                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            guard let deadline else { return try await body() }
            return try await withDeadline(deadline, body)
        } catch {
            throw Self.accountError(error)
        }
    }
}
