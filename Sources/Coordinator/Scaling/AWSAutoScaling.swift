import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Credentials for AWS API calls.
public struct AWSCredentials: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, as the
    /// instance's role provides them through the environment of the service.
    public static func fromEnvironment() -> AWSCredentials? {
        let environment = ProcessInfo.processInfo.environment
        guard let id = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"] else { return nil }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
    }
}

/// An AWS API call that failed.
public struct AWSError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var code: String
    public var message: String
    public var description: String { "AWS \(code) (HTTP \(status)): \(message)" }
}

/// The few EC2 Auto Scaling calls the coordinator makes: the Query API over
/// HTTPS, signed with Signature Version 4.
public struct AWSAutoScaling: Sendable {
    /// What the coordinator needs to know about its agents' group.
    public struct Group: Sendable, Equatable {
        public var desired: Int
        public var min: Int
        public var max: Int
        public var instances: [String]
    }

    public var endpoint: URL
    public var region: String
    public var credentials: AWSCredentialsProvider

    /// `endpoint` defaults to the region's public endpoint; tests point it at a local server.
    public init(region: String, credentials: AWSCredentialsProvider, endpoint: URL? = nil) {
        self.region = region
        self.credentials = credentials
        self.endpoint = endpoint ?? URL(string: "https://autoscaling.\(region).amazonaws.com/")!
    }

    public func describeGroup(_ name: String) async throws -> Group {
        let xml = try await call("DescribeAutoScalingGroups", ["AutoScalingGroupNames.member.1": name])
        guard let desired = Int(Self.values("DesiredCapacity", in: xml).first ?? "") else {
            throw AWSError(status: 404, code: "NotFound", message: "no auto-scaling group \(name)")
        }
        return Group(desired: desired, min: Int(Self.values("MinSize", in: xml).first ?? "") ?? 0,
                     max: Int(Self.values("MaxSize", in: xml).first ?? "") ?? desired,
                     instances: Self.values("InstanceId", in: xml))
    }

    public func setDesiredCapacity(_ name: String, to capacity: Int) async throws {
        _ = try await call("SetDesiredCapacity", [
            "AutoScalingGroupName": name, "DesiredCapacity": String(capacity), "HonorCooldown": "false",
        ])
    }

    /// Terminates one instance and lowers the desired capacity with it, so the
    /// group does not replace it.
    public func terminateInstance(_ instanceID: String) async throws {
        _ = try await call("TerminateInstanceInAutoScalingGroup", [
            "InstanceId": instanceID, "ShouldDecrementDesiredCapacity": "true",
        ])
    }

    func call(_ action: String, _ parameters: [String: String]) async throws -> String {
        var form = parameters
        form["Action"] = action
        form["Version"] = "2011-01-01"
        let body = form.sorted { $0.key < $1.key }.map { "\(Self.encode($0.key))=\(Self.encode($0.value))" }
            .joined(separator: "&")
        var request = URLRequest(url: endpoint)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        let credentials = try await self.credentials.credentials()
        for (name, value) in Self.sign(body: Data(body.utf8), date: Date(), endpoint: endpoint, region: region,
                                       credentials: credentials) {
            request.setValue(value, forHTTPHeaderField: name)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let text = String(decoding: data, as: UTF8.self)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw AWSError(status: status, code: Self.values("Code", in: text).first ?? "Unknown",
                           message: Self.values("Message", in: text).first ?? text)
        }
        return text
    }

    /// Signature Version 4 headers for a form POST to `endpoint`.
    static func sign(body: Data, date: Date, endpoint: URL, region: String, credentials: AWSCredentials) -> [String: String] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: date)
        let day = String(amzDate.prefix(8))
        let host = endpoint.port.map { "\(endpoint.host ?? ""):\($0)" } ?? (endpoint.host ?? "")
        var headers = [
            "content-type": "application/x-www-form-urlencoded; charset=utf-8",
            "host": host,
            "x-amz-date": amzDate,
        ]
        if let token = credentials.sessionToken { headers["x-amz-security-token"] = token }
        let names = headers.keys.sorted()
        let canonicalRequest = [
            "POST", endpoint.path.isEmpty ? "/" : endpoint.path, "",
            names.map { "\($0):\(headers[$0]!)\n" }.joined(), names.joined(separator: ";"),
            hex(SHA256.hash(data: body)),
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/autoscaling/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, hex(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, "autoscaling", "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        headers["authorization"] = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(names.joined(separator: ";")), Signature=\(signature)"
        headers["host"] = nil  // URLSession sets Host itself, to the same value
        return headers
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// RFC 3986 percent-encoding, as SigV4 requires.
    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Every `<name>value</name>` in a small, known XML response.
    static func values(_ name: String, in xml: String) -> [String] {
        var result: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(name)>"), let close = rest[open.upperBound...].range(of: "</\(name)>") {
            result.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return result
    }
}
