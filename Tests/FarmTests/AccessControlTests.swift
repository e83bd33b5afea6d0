@_spi(Benchmark) @testable import Coordinator
import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Who may call what: every route of the table with no key and with every role,
/// on the caller's own team's video and on another team's.
@Suite struct AccessControlTests {
    /// A farm with team physics (one user per role, a video of its creator) and team chemistry (a creator and its video).
    struct Teams: Sendable {
        var users: [Role: (user: UserRecord, key: String, spareKeyID: String)] = [:]
        var physics: TeamRecord
        var ownVideo: String
        var otherVideo: String
        /// Generation jobs of physics's creator and of chemistry's: a job is its owner's (and operators').
        var ownGeneration: String
        var otherGeneration: String
        var outsider: (user: UserRecord, key: String)

        init(_ farm: APIFixture, _ client: any TestClientProtocol) async throws {
            for role in Role.allCases {
                let (user, key) = try await farm.user("\(role.rawValue)-p", team: "physics", role: role)
                let spare = try await farm.accounts.createKey(for: user, request: CreateKeyRequest(name: "spare"))
                users[role] = (user, key, spare.info.id)
            }
            physics = try #require(try await farm.store.team("physics"))
            // A connected agent, for the operators' routes about agents.
            await farm.engine.apply(.registered(Register(agentID: "agent-1", hostname: "h", slots: 1, cores: 2, memoryBytes: 1 << 30,
                                                         manimVersion: "0.22.0", hasLaTeX: true, running: []), peer: Data("p1".utf8)))
            outsider = try await farm.user("creator-c", team: "chemistry", role: .creator)
            ownVideo = try await client.call(.post, "/v1/videos", key: users[.creator]!.key, body: SubmitRequest(script: APIFixture.script))
                .decode(VideoStatus.self).id
            otherVideo = try await client.call(.post, "/v1/videos", key: outsider.key, body: SubmitRequest(script: APIFixture.script))
                .decode(VideoStatus.self).id
            ownGeneration = try await client.call(.post, "/v1/generations", key: users[.creator]!.key,
                                                  body: GenerationRequest(prompt: "a dot")).decode(GenerationRecord.self).id
            otherGeneration = try await client.call(.post, "/v1/generations", key: outsider.key, body: GenerationRequest(prompt: "a square"))
                .decode(GenerationRecord.self).id
            // A published file for each, so the output route has something to serve to those allowed.
            for id in [ownVideo, otherVideo] {
                let folder = farm.api.publishedDirectory.appendingPathComponent(id)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Data("#EXTM3U\n".utf8).write(to: folder.appendingPathComponent("master.m3u8"))
            }
        }

        /// `route`'s path with its parameters filled in for `role`, about `video`.
        func uri(_ route: APIRoute, role: Role?, video: String, generation: String? = nil) -> String {
            let user = role.map { users[$0]! }
            return route.path
                .replacingOccurrences(of: ":id", with: route.path.hasPrefix("/v1/generations") ? generation ?? ownGeneration : video)
                .replacingOccurrences(of: "**", with: "master.m3u8")
                .replacingOccurrences(of: ":team", with: physics.id)
                .replacingOccurrences(of: ":user", with: user?.user.id ?? "u0")
                .replacingOccurrences(of: ":key", with: user?.spareKeyID ?? "mf_000000000000")
                .replacingOccurrences(of: ":agent", with: "agent-1")
                + (route.path.hasSuffix("/events") ? "?once=true" : "")  // a live stream would last until the video ends
        }

        func body(_ route: APIRoute) -> (any Encodable)? {
            switch (route.method, route.path) {
            case (.post, "/v1/session"): SignInRequest(key: users[.viewer]!.key)
            case (.post, "/v1/scripts/scenes"): ScriptScenesRequest(script: APIFixture.script)
            case (.post, "/v1/videos"): SubmitRequest(script: APIFixture.script)
            case (.post, "/v1/teams"): CreateTeamRequest(name: "t\(UUID().uuidString.prefix(8))")
            case (.patch, "/v1/teams/:team"): UpdateTeamRequest(retentionDays: 30)
            case (.post, "/v1/users"): CreateUserRequest(name: "u\(UUID().uuidString.prefix(8))", team: "physics", role: .viewer)
            case (.post, "/v1/users/:user/keys"): CreateKeyRequest(name: "walk")
            case (.post, "/v1/teams/:team/expire"): ExpireRequest(dryRun: true)
            case (.post, "/v1/agents/:agent/drain"): DrainRequest(drain: false)
            case (.post, "/v1/speech"): SpeechRequest(text: "walk")
            case (.post, "/v1/generations"): GenerationRequest(prompt: "walk")
            case (.patch, "/v1/users/:user"): UpdateUserRequest(role: .admin)  // its own role, unchanged
            default: nil
            }
        }
    }

    @Test func everyRouteAnswersEveryRoleAsItsTableSays() async throws {
        try await APIFixture.with { client, farm in
            let teams = try await Teams(farm, client)
            let routes = farm.api.routes
            #expect(routes.count >= 23, "the whole table is walked")
            for route in routes {
                let body = teams.body(route)
                let anonymous = try await client.call(route.method, teams.uri(route, role: nil, video: teams.ownVideo), key: nil, body: body)
                #expect(anonymous.status == (route.role == nil ? .ok : .unauthorized), "\(route.method) \(route.path) without a key")
                if route.role != nil {
                    #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                    #expect(anonymous.text.contains("API key"), "a 401 says what is missing: \(anonymous.text)")
                }
                for role in Role.allCases {
                    var uri = teams.uri(route, role: role, video: teams.ownVideo)
                    var key = teams.users[role]!.key
                    if route.method == .delete && route.path == "/v1/users/:user" {
                        // Erasing oneself ends one's keys: a user of its own for this route.
                        let (user, own) = try await farm.user("erasable-\(role.rawValue)", team: "physics", role: role)
                        (uri, key) = ("/v1/users/\(user.id)", own)
                    }
                    let response = try await client.call(route.method, uri, key: key, body: teams.body(route))
                    let creates = route.method == .post && !route.path.hasSuffix("/expire") && !route.path.hasSuffix("/drain")
                        && !["/v1/speech", "/v1/session", "/v1/scripts/scenes"].contains(route.path)
                    let expected: HTTPResponse.Status = if let needed = route.role, role < needed {
                        .forbidden
                    } else if route.path == "/v1/generations/:id" && role < .operator && role != .creator {
                        .notFound  // the creator's job: a viewer of the same team does not see its prompt and scripts
                    } else if route.path == "/v1/generations" && route.method == .post {
                        .accepted  // a job runs after the answer
                    } else {
                        creates ? .created : .ok
                    }
                    #expect(response.status == expected, "\(route.method) \(route.path) as \(role.rawValue): \(response.text.prefix(200))")
                }
            }
        }
    }

    @Test func anotherTeamsVideoAnswersAsIfItDidNotExist() async throws {
        try await APIFixture.with { client, farm in
            let teams = try await Teams(farm, client)
            for route in farm.api.routes where route.path.contains(":id") {
                for role in Role.allCases {
                    let response = try await client.call(
                        route.method, teams.uri(route, role: role, video: teams.otherVideo, generation: teams.otherGeneration),
                        key: teams.users[role]!.key)
                    let expected: HTTPResponse.Status = if let needed = route.role, role < needed {
                        .forbidden  // the role is checked before the video is looked up: nothing about it leaks
                    } else if role >= .operator {
                        .ok
                    } else {
                        .notFound
                    }
                    #expect(response.status == expected, "\(route.method) \(route.path) of another team as \(role.rawValue)")
                    if expected == .notFound {
                        let missing = try await client.call(
                            route.method, teams.uri(route, role: role, video: "vdoesnotexist", generation: "gdoesnotexist"),
                            key: teams.users[role]!.key)
                        #expect(missing.status == .notFound)
                        #expect(response.text.replacingOccurrences(of: teams.otherVideo, with: "X").replacingOccurrences(of: teams.otherGeneration, with: "X")
                                == missing.text.replacingOccurrences(of: "vdoesnotexist", with: "X").replacingOccurrences(of: "gdoesnotexist", with: "X"),
                                "the same answer as a missing video")
                    }
                }
            }
            // The other team's listing shows its own video only; an operator's shows both.
            let outsiders = try await client.call(.get, "/v1/videos", key: teams.outsider.key).decode(VideoPage.self)
            #expect(outsiders.videos.map(\.id) == [teams.otherVideo])
            let operators = try await client.call(.get, "/v1/videos", key: teams.users[.operator]!.key).decode(VideoPage.self)
            #expect(Set(operators.videos.map(\.id)) == [teams.ownVideo, teams.otherVideo])
            let peeking = try await client.call(.get, "/v1/videos?team=\(teams.physics.id)", key: teams.outsider.key)
            #expect(peeking.status == .forbidden)
        }
    }

    @Test func escalationIsRefusedAndChangesNothing() async throws {
        try await APIFixture.with { client, farm in
            let teams = try await Teams(farm, client)
            let creator = teams.users[.creator]!.key
            let before = try await client.call(.get, "/v1/videos", key: farm.adminKey).decode(VideoPage.self).videos.count

            let jumping = try await client.call(.post, "/v1/videos", key: creator, body: SubmitRequest(script: APIFixture.script, priority: 5))
            #expect(jumping.status == .forbidden)
            #expect(jumping.text.contains("priority 0 or lower"))
            let impersonating = try await client.call(.post, "/v1/videos", key: creator,
                                                      body: SubmitRequest(script: APIFixture.script, submitter: "admin"))
            #expect(impersonating.status == .forbidden)
            #expect(impersonating.text.contains("submitter"))
            let huge = try await client.call(.post, "/v1/videos", key: teams.users[.operator]!.key,
                                             body: SubmitRequest(script: APIFixture.script, priority: Int.max))
            #expect(huge.status == .unprocessableContent)
            let viewerSubmits = try await client.call(.post, "/v1/videos", key: teams.users[.viewer]!.key,
                                                      body: SubmitRequest(script: APIFixture.script))
            #expect(viewerSubmits.status == .forbidden)
            let viewerCancels = try await client.call(.delete, "/v1/videos/\(teams.ownVideo)", key: teams.users[.viewer]!.key)
            #expect(viewerCancels.status == .forbidden)
            // A creator of the same team may read a teammate's video but not cancel it.
            let (_, teammate) = try await farm.user("creator-p2", team: "physics", role: .creator)
            #expect(try await client.call(.get, "/v1/videos/\(teams.ownVideo)", key: teammate).status == .ok)
            let teammateCancels = try await client.call(.delete, "/v1/videos/\(teams.ownVideo)", key: teammate)
            #expect(teammateCancels.status == .forbidden)
            #expect(teammateCancels.text.contains("only its own videos"))
            let creatorMakesUsers = try await client.call(.post, "/v1/users", key: creator,
                                                          body: CreateUserRequest(name: "mallory", team: "physics", role: .admin))
            #expect(creatorMakesUsers.status == .forbidden)
            let othersKeys = try await client.call(.post, "/v1/users/\(teams.users[.admin]!.user.id)/keys", key: creator,
                                                   body: CreateKeyRequest())
            #expect(othersKeys.status == .notFound, "a key for someone else: that user is not the caller's to see")

            let after = try await client.call(.get, "/v1/videos", key: farm.adminKey).decode(VideoPage.self).videos
            #expect(after.count == before)
            #expect(after.allSatisfy { $0.state == .queued }, "nothing was cancelled")
            #expect(try await farm.store.user("mallory") == nil)
            #expect(try await farm.store.keys(userID: teams.users[.admin]!.user.id).count == 2)
        }
    }
}
