import Crypto
import Foundation

/// AWS Signature Version 4, for any service: signed headers for a request the
/// caller sends itself, or a presigned URL someone else sends (an agent's upload).
/// One signer serves S3 and EC2 Auto Scaling, so there is one implementation to get right.
public struct SignatureV4: Sendable {
    public var service: String
    public var region: String

    public init(service: String, region: String) {
        self.service = service
        self.region = region
    }

    /// The payload hash S3 accepts when the body is not hashed (presigned URLs).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Headers to add to a request: `x-amz-date`, the session token if any, and
    /// `authorization` over `headers` (lower-case names), `host` and those two.
    public func sign(method: String, url: URL, headers: [String: String], payloadHash: String,
                     credentials: AWSCredentials, date: Date) -> [String: String] {
        let (amzDate, day) = Self.timestamps(date)
        var signed = Dictionary(uniqueKeysWithValues: headers.map { ($0.key.lowercased(), $0.value) })
        signed["host"] = Self.host(url)
        signed["x-amz-date"] = amzDate
        if let token = credentials.sessionToken { signed["x-amz-security-token"] = token }
        let names = signed.keys.sorted()
        let canonical = [
            method, Self.canonicalPath(url), Self.canonicalQuery(url),
            names.map { "\($0):\(signed[$0]!.trimmingCharacters(in: .whitespaces))\n" }.joined(),
            names.joined(separator: ";"), payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let signature = self.signature(canonical, amzDate: amzDate, day: day, scope: scope, secret: credentials.secretAccessKey)
        signed["authorization"] = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(names.joined(separator: ";")), Signature=\(signature)"
        signed["host"] = nil  // the HTTP client sets Host itself, to the same value
        return signed
    }

    /// `url` with a query-string signature valid for `expires` seconds (at most
    /// 7 days, as S3 allows), signing only `host`: whoever holds it may send one
    /// `method` request with any body to exactly that URL until then.
    public func presign(method: String, url: URL, expires: Int, credentials: AWSCredentials, date: Date) -> URL {
        let (amzDate, day) = Self.timestamps(date)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        var items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        items += [
            URLQueryItem(name: "X-Amz-Algorithm", value: "AWS4-HMAC-SHA256"),
            URLQueryItem(name: "X-Amz-Credential", value: "\(credentials.accessKeyID)/\(scope)"),
            URLQueryItem(name: "X-Amz-Date", value: amzDate),
            URLQueryItem(name: "X-Amz-Expires", value: String(min(max(expires, 1), 604_800))),
            URLQueryItem(name: "X-Amz-SignedHeaders", value: "host"),
        ]
        if let token = credentials.sessionToken { items.append(URLQueryItem(name: "X-Amz-Security-Token", value: token)) }
        let unsigned = Self.replacingQuery(of: url, with: items)
        let canonical = [
            method, Self.canonicalPath(unsigned), Self.canonicalQuery(unsigned), "host:\(Self.host(url))\n", "host",
            Self.unsignedPayload,
        ].joined(separator: "\n")
        let signature = self.signature(canonical, amzDate: amzDate, day: day, scope: scope, secret: credentials.secretAccessKey)
        return Self.replacingQuery(of: url, with: items + [URLQueryItem(name: "X-Amz-Signature", value: signature)])
    }

    private func signature(_ canonicalRequest: String, amzDate: String, day: String, scope: String, secret: String) -> String {
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: date)
        return (amzDate, String(amzDate.prefix(8)))
    }

    static func host(_ url: URL) -> String {
        url.port.map { "\(url.host ?? ""):\($0)" } ?? (url.host ?? "")
    }

    /// The path as sent: S3 signs it exactly as encoded, once.
    static func canonicalPath(_ url: URL) -> String {
        let path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? ""
        return path.isEmpty ? "/" : path
    }

    static func canonicalQuery(_ url: URL) -> String {
        let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        return items.map { (encode($0.name), encode($0.value ?? "")) }.sorted { $0 < $1 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    static func replacingQuery(of url: URL, with items: [URLQueryItem]) -> URL {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)!
        components.percentEncodedQuery = items.map { "\(encode($0.name))=\(encode($0.value ?? ""))" }.joined(separator: "&")
        return components.url!
    }

    /// RFC 3986 percent-encoding, as SigV4 requires.
    public static func encode(_ text: String, keepingSlashes: Bool = false) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        if keepingSlashes { allowed.insert("/") }
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    public static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
