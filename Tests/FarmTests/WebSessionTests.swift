@testable import Coordinator
import FarmModel
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The routes the web pages stand on, in process: the session cookie and its CSRF token, the
/// team-wide event stream, scene discovery before submitting, and who reads log tails.
@Suite struct WebSessionTests {
    static func cookie(_ key: String, csrf: String? = nil, json: Bool = false) -> HTTPFields {
        var headers: HTTPFields = [.cookie: "theme=dark; \(SessionCookie.name)=\(key)"]
        if let csrf { headers[SessionCookie.csrfHeader] = csrf }
        if json { headers[.contentType] = "application/json" }
        return headers
    }

    @Test func theCookieAuthenticatesAndItsWritesNeedTheSessionsToken() async throws {
        try await APIFixture.with { client, farm in
            let (_, key) = try await farm.user("ada", team: "physics", role: .creator)
            // Signing in checks the key and sets a cookie no script can read, for this site only.
            let wrong = try await client.call(.post, "/v1/session", key: nil, body: SignInRequest(key: "mf_000000000000_nope"))
            #expect(wrong.status == .unauthorized && wrong.headers[.setCookie] == nil, "\(wrong.text)")
            let signedIn = try await client.call(.post, "/v1/session", key: nil, body: SignInRequest(key: key))
            #expect(signedIn.status == .ok)
            let setCookie = try #require(signedIn.headers[.setCookie])
            for part in ["\(SessionCookie.name)=\(key)", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
                #expect(setCookie.contains(part), "\(setCookie)")
            }
            let session = try signedIn.decode(SessionInfo.self)
            #expect(session.user.name == "ada" && session.maxPriority == 0 && session.authRequired)
            let token = try #require(session.csrfToken)

            // Reads need only the cookie; a write needs the token too, and a wrong token is no token.
            let read = try await client.execute(uri: "/v1/session", method: .get, headers: Self.cookie(key))
            let readSession = try read.decode(SessionInfo.self)
            #expect(read.status == .ok && readSession.csrfToken == token)
            let body = APIFixture.json(SubmitRequest(script: APIFixture.script))
            let forged = try await client.execute(uri: "/v1/videos", method: .post, headers: Self.cookie(key, json: true), body: body)
            #expect(forged.status == .forbidden && forged.text.contains("X-CSRF-Token"), "\(forged.text)")
            let guessed = String(token.reversed())
            let wrongToken = try await client.execute(uri: "/v1/videos", method: .post, headers: Self.cookie(key, csrf: guessed, json: true), body: body)
            #expect(wrongToken.status == .forbidden)
            let other = try await client.execute(uri: "/v1/videos", method: .post,
                                                 headers: Self.cookie(key, csrf: SessionCookie.csrfToken(forKey: farm.adminKey), json: true), body: body)
            #expect(other.status == .forbidden, "another key's token does not fit")
            let submitted = try await client.execute(uri: "/v1/videos", method: .post, headers: Self.cookie(key, csrf: token, json: true), body: body)
            #expect(submitted.status == .created, "\(submitted.text)")
            let cancel = try await client.execute(uri: "/v1/videos/\(try submitted.decode(VideoStatus.self).id)", method: .delete, headers: Self.cookie(key))
            #expect(cancel.status == .forbidden, "a DELETE is a write too")

            // A bearer key needs no token (no browser sends it by itself); a bad cookie is a 401 that says why.
            #expect(try await client.call(.get, "/v1/session", key: key).status == .ok)
            let garbage = try await client.execute(uri: "/v1/me", method: .get, headers: Self.cookie("mf_zz"))
            #expect(garbage.status == .unauthorized)

            // Signing out clears the cookie.
            let out = try await client.execute(uri: "/v1/session", method: .delete, headers: Self.cookie(key))
            #expect(out.status == .ok && out.headers[.setCookie]?.contains("Max-Age=0") == true)
        }
    }

    @Test func pagesNeedASessionAndRunOnlyTheFarmsOwnScripts() async throws {
        try await APIFixture.with { client, farm in
            for path in ["/", "/submit", "/agents", "/videos/v123"] {
                let anonymous = try await client.execute(uri: path, method: .get)
                #expect(anonymous.status == .seeOther && anonymous.headers[.location] == "/signin?next=\(path)", "\(path)")
                let page = try await client.execute(uri: path, method: .get, headers: Self.cookie(farm.adminKey))
                #expect(page.status == .ok && page.headers[.contentType]?.hasPrefix("text/html") == true, "\(path)")
                let policy = try #require(page.headers[.contentSecurityPolicy])
                #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe"), "\(policy)")
                #expect(page.text.contains("<main id=\"main\"") && page.text.contains("lang=\"en\""))
                #expect(!page.text.contains("{{"), "every placeholder of \(path) is filled")
            }
            #expect(try await client.execute(uri: "/signin", method: .get).status == .ok)
            let script = try await client.execute(uri: "/static/farm.js", method: .get)
            #expect(script.status == .ok && script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            #expect(try await client.execute(uri: "/static/..%2Fdiscover_scenes.py", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/static/missing.js", method: .get).status == .notFound)
        }
    }

    @Test func scenesAreListedBeforeSubmittingAndRefusalsNameTheirField() async throws {
        try await APIFixture.with { client, farm in
            let key = farm.adminKey
            let scenes = try await client.call(.post, "/v1/scripts/scenes", key: key, body: ScriptScenesRequest(
                script: APIFixture.script + "\nclass Tex(Scene):\n    def construct(self):\n        self.add(MathTex('x'))\n"))
            #expect(try scenes.decode(ScriptScenes.self).scenes == [
                ScriptScene(name: "Hello", line: 3, requiresLaTeX: false), ScriptScene(name: "Tex", line: 7, requiresLaTeX: true)])
            let broken = try await client.call(.post, "/v1/scripts/scenes", key: key, body: ScriptScenesRequest(script: "class (:\n"))
            #expect(broken.status == .unprocessableContent && broken.headers[FarmAPI.fieldHeader] == "script", "\(broken.text)")
            var request = SubmitRequest(script: APIFixture.script, scenes: ["Nope"])
            let unknown = try await client.call(.post, "/v1/videos", key: key, body: request)
            #expect(unknown.headers[FarmAPI.fieldHeader] == "scenes", "\(unknown.text)")
            request = SubmitRequest(script: APIFixture.script, ladder: [7])
            #expect(try await client.call(.post, "/v1/videos", key: key, body: request).headers[FarmAPI.fieldHeader] == "ladder")
            request = SubmitRequest(script: APIFixture.script, priority: 5_000)
            #expect(try await client.call(.post, "/v1/videos", key: key, body: request).headers[FarmAPI.fieldHeader] == "priority")
        }
    }

    @Test func theTeamStreamSendsEveryLiveVideoAndOnlyTheCallersTeams() async throws {
        try await APIFixture.with { client, farm in
            let (_, physics) = try await farm.user("p", team: "physics", role: .creator)
            let (_, chemistry) = try await farm.user("c", team: "chemistry", role: .creator)
            let mine = try await client.call(.post, "/v1/videos", key: physics, body: SubmitRequest(script: APIFixture.script)).decode(VideoStatus.self)
            let theirs = try await client.call(.post, "/v1/videos", key: chemistry, body: SubmitRequest(script: APIFixture.script)).decode(VideoStatus.self)
            func videos(_ text: String) throws -> [VideoSummary] {
                try text.components(separatedBy: "\n\n").filter { $0.contains("event: video") }.map { event in
                    let data = try #require(event.split(separator: "\n").first { $0.hasPrefix("data: ") }?.dropFirst(6))
                    return try JSONDecoder.farm.decode(VideoSummary.self, from: Data(data.utf8))
                }
            }
            let seen = try videos(try await client.call(.get, "/v1/events?once=true", key: physics).text)
            #expect(seen.map(\.id) == [mine.id], "a team sees its own videos only")
            #expect(seen.first?.progress != nil && seen.first?.state == .queued)
            let all = try videos(try await client.call(.get, "/v1/events?once=true", key: farm.adminKey).text)
            #expect(Set(all.map(\.id)) == [mine.id, theirs.id], "an operator sees every team's")

            // A video that ends while the client is away is sent when it resumes.
            let before = Int64(Date().timeIntervalSince1970 * 1000) - 1
            #expect(try await client.call(.delete, "/v1/videos/\(mine.id)", key: physics).status == .ok)
            var headers = APIFixture.headers(physics)
            headers[.init("Last-Event-ID")!] = String(before)
            let resumed = try videos(try await client.execute(uri: "/v1/events?once=true", method: .get, headers: headers).text)
            #expect(resumed.map(\.id) == [mine.id] && resumed.first?.state == .cancelled, "\(resumed.map { ($0.id, $0.state) })")
            #expect(farm.api.eventStreams.openStreams == 0)
        }
    }
}
