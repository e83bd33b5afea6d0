import FarmModel
import Foundation
import Hummingbird

/// The web pages' session (`SessionCookie`) and the scene list the submit page offers.
extension FarmAPI {
    /// `POST /v1/session {key}`: checks the key and keeps it in the session cookie.
    @Sendable func signIn(_ request: Request, context: FarmRequestContext) async throws -> Response {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            throw HTTPError(.unsupportedMediaType, message: "send the body as Content-Type: application/json")
        }
        let body = try await decodeBody(request, as: SignInRequest.self, what: "sign-in")
        let key = body.key.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...256).contains(key.utf8.count), !key.contains(where: { $0 == ";" || $0 == "," || $0.isWhitespace }) else {
            throw AuthenticationError.malformedKey.httpRefusal
        }
        let authenticator = APIKeyAuthenticator(accounts: accounts, required: settings.requireAuth)
        let identity = settings.requireAuth ? try await authenticator.identity(forKey: key) : try await accounts.localAdmin()
        var response = try sessionInfo(identity, key: settings.requireAuth ? key : nil).response(from: request, context: context)
        if settings.requireAuth { response.headers[HTTPFields.Element.Name.setCookie] = SessionCookie.setCookie(key) }
        return response
    }

    /// `GET /v1/session`: who the page acts as and its CSRF token.
    @Sendable func session(_ request: Request, context: FarmRequestContext) async throws -> SessionInfo {
        let identity = try context.requireIdentity()
        let key = request.headers[.authorization] == nil ? SessionCookie.key(in: request) : nil
        return sessionInfo(identity, key: settings.requireAuth ? key : nil)
    }

    /// `DELETE /v1/session`: forgets the cookie (the key itself stays valid; revoke it to end it).
    @Sendable func signOut(_ request: Request, context: FarmRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.setCookie: SessionCookie.clearCookie, .contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: #"{"signedOut":true}"#)))
    }

    func sessionInfo(_ identity: FarmIdentity, key: String?) -> SessionInfo {
        SessionInfo(user: UserInfo(identity.user, team: identity.team), csrfToken: key.map(SessionCookie.csrfToken(forKey:)),
                    authRequired: settings.requireAuth,
                    maxPriority: identity.role >= .operator ? settings.priorityRange.upperBound : settings.creatorMaxPriority)
    }

    /// `POST /v1/scripts/scenes {script}`: the scenes the script defines, in file order, found the
    /// way a submission finds them (the script is parsed, never run).
    @Sendable func scriptScenes(_ request: Request, context: FarmRequestContext) async throws -> ScriptScenes {
        let body = try await decodeBody(request, as: ScriptScenesRequest.self, what: "script")
        guard !body.script.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw HTTPError(.unprocessableContent, headers: [Self.fieldHeader: "script"], message: SubmissionError.emptyScript.description)
        }
        do {
            let scenes = try await engine.discovery.scenes(in: body.script)
            return ScriptScenes(scenes: scenes.map { ScriptScene(name: $0.name, line: $0.line, requiresLaTeX: $0.requiresLaTeX) })
        } catch ScriptError.parserBusy {
            throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "2"], message: ScriptError.parserBusy.description)
        } catch let error as ScriptError {
            throw HTTPError(.unprocessableContent, headers: [Self.fieldHeader: "script"], message: error.description)
        }
    }

    /// Names the submission field an error is about, so a form can show it beside that field.
    static let fieldHeader = HTTPFields.Element.Name("X-Farm-Field")!
}

extension AuthenticationError {
    var httpRefusal: HTTPError { APIKeyAuthenticator.refusal(self) }
}
