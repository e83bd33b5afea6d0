import Foundation
import Hummingbird
import HummingbirdAuth

/// Resolves `Authorization: Bearer <API key>`, or the web pages' session cookie, to the key's
/// user (hummingbird-auth's authenticator protocol). A write carried by the cookie needs its
/// CSRF token too (`SessionCookie`). A request without a usable key stops here with 401 and
/// a message that says what to fix; the routes' role policies then see an identity.
///
/// Without `accounts` (a coordinator started with `--no-auth`) every request acts as the first admin.
struct APIKeyAuthenticator: AuthenticatorMiddleware {
    typealias Context = FarmRequestContext
    let accounts: Accounts
    let required: Bool

    func authenticate(request: Request, context: FarmRequestContext) async throws -> FarmIdentity? {
        guard required else { return try await accounts.localAdmin() }
        guard let header = request.headers[.authorization] else {
            guard let key = SessionCookie.key(in: request) else { throw Self.refusal(.missingKey) }
            guard SessionCookie.mayProceed(request, key: key) else {
                throw HTTPError(.forbidden, message: "a write from the web pages needs the session's \(SessionCookie.csrfHeader) header (GET /v1/session tells it)")
            }
            return try await identity(forKey: key)
        }
        guard let bearer = request.headers.bearer, header.utf8.count <= 256 else { throw Self.refusal(.malformedKey) }
        return try await identity(forKey: bearer.token.trimmingCharacters(in: .whitespaces))
    }

    func identity(forKey key: String) async throws -> FarmIdentity {
        do {
            return try await accounts.authenticate(key: key)
        } catch let error as AuthenticationError {
            throw Self.refusal(error)
        } catch {
            throw HTTPError(.serviceUnavailable, message: "accounts unavailable: \(error)")
        }
    }

    static func refusal(_ error: AuthenticationError) -> HTTPError {
        HTTPError(.unauthorized, headers: [.wwwAuthenticate: #"Bearer realm="manimfarm""#], message: error.description)
    }
}
