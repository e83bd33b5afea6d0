import Crypto
import Foundation
import Hummingbird

/// The web pages' sign-in: the API key the person typed, kept in a cookie that page scripts
/// cannot read (HttpOnly), that is sent over HTTPS only (Secure; browsers treat loopback as
/// secure too), to this site only (SameSite=Strict), and that ends with the browser session.
///
/// Writes authenticated by the cookie must also carry `X-CSRF-Token`: a digest of the key that
/// `GET /v1/session` tells the page. Another site can make a browser send the cookie (not with
/// SameSite=Strict, but older browsers ignore it) yet cannot read the token, so it cannot write.
/// The token is derived rather than stored: it survives restarts and any coordinator of the farm
/// accepts it, and it is worthless without the key it was derived from.
enum SessionCookie {
    static let name = "farm_session"
    static let csrfHeader = HTTPFields.Element.Name("X-CSRF-Token")!

    /// The key from the request's `Cookie` header, if it carries a plausible one.
    static func key(in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                guard (1...256).contains(value.utf8.count) else { return nil }
                return value
            }
        }
        return nil
    }

    static func csrfToken(forKey key: String) -> String {
        let digest = SHA256.hash(data: Data("manimfarm csrf v1\n\(key)".utf8))
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether a cookie-authenticated request may go on: reads always; writes with the key's token.
    static func mayProceed(_ request: Request, key: String) -> Bool {
        guard ![.get, .head, .options].contains(request.method) else { return true }
        guard let sent = request.headers[csrfHeader], sent.utf8.count == 64 else { return false }
        // Constant time: the comparison must not tell an attacker how much of a guess was right.
        let expected = Array(csrfToken(forKey: key).utf8)
        return zip(Array(sent.utf8), expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func setCookie(_ key: String) -> String {
        "\(name)=\(key); Path=/; HttpOnly; Secure; SameSite=Strict"
    }

    static let clearCookie = "\(name)=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
}
