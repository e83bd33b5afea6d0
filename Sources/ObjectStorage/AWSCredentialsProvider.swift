import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where AWS credentials come from: the environment, or the instance role
/// through the EC2 instance metadata service (IMDSv2, falling back to v1),
/// refreshed before they expire.
public actor AWSCredentialsProvider {
    public enum Source: Sendable {
        case environment
        case profile(String)
        case instanceMetadata(URL)
        /// Given by the caller (tests, a secret store).
        case fixed(AWSCredentials)
    }

    private let source: Source
    private var cached: (credentials: AWSCredentials, expires: Date)?

    public init(_ source: Source) {
        self.source = source
    }

    /// The instance metadata service's usual address.
    public static let metadataEndpoint = URL(string: "http://169.254.169.254")!

    /// Environment credentials if set, else the profile `AWS_PROFILE` names, else the instance role.
    public static func automatic() -> AWSCredentialsProvider {
        if AWSCredentials.fromEnvironment() != nil { return AWSCredentialsProvider(.environment) }
        if let profile = ProcessInfo.processInfo.environment["AWS_PROFILE"], !profile.isEmpty {
            return AWSCredentialsProvider(.profile(profile))
        }
        return AWSCredentialsProvider(.instanceMetadata(metadataEndpoint))
    }

    public func credentials() async throws -> AWSCredentials {
        switch source {
        case .environment:
            guard let credentials = AWSCredentials.fromEnvironment() else {
                throw AWSError(status: 0, code: "NoCredentials", message: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
            }
            return credentials
        case .profile(let name):
            return try AWSCredentials.fromProfile(name)
        case .fixed(let credentials):
            return credentials
        case .instanceMetadata(let endpoint):
            if let cached, cached.expires.timeIntervalSinceNow > 300 { return cached.credentials }
            let fresh = try await Self.fromInstanceMetadata(endpoint)
            cached = fresh
            return fresh.credentials
        }
    }

    static func fromInstanceMetadata(_ endpoint: URL) async throws -> (credentials: AWSCredentials, expires: Date) {
        var token: String?
        var tokenRequest = URLRequest(url: endpoint.appendingPathComponent("latest/api/token"))
        tokenRequest.httpMethod = "PUT"
        tokenRequest.setValue("300", forHTTPHeaderField: "X-aws-ec2-metadata-token-ttl-seconds")
        tokenRequest.timeoutInterval = 2
        if let (data, response) = try? await URLSession.shared.data(for: tokenRequest),
           (response as? HTTPURLResponse)?.statusCode == 200 {
            token = String(decoding: data, as: UTF8.self)
        }
        func get(_ path: String) async throws -> Data {
            var request = URLRequest(url: endpoint.appendingPathComponent(path))
            request.timeoutInterval = 2
            if let token { request.setValue(token, forHTTPHeaderField: "X-aws-ec2-metadata-token") }
            let (data, response) = try await URLSession.shared.data(for: request)
            guard (response as? HTTPURLResponse)?.statusCode == 200 else {
                throw AWSError(status: (response as? HTTPURLResponse)?.statusCode ?? 0, code: "NoInstanceRole",
                               message: "instance metadata has no \(path)")
            }
            return data
        }
        let base = "latest/meta-data/iam/security-credentials/"
        let role = String(decoding: try await get(base), as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        struct Document: Decodable {
            var AccessKeyId: String
            var SecretAccessKey: String
            var Token: String?
            var Expiration: String
        }
        let document = try JSONDecoder().decode(Document.self, from: try await get(base + role))
        let expires = ISO8601DateFormatter().date(from: document.Expiration) ?? Date().addingTimeInterval(600)
        return (AWSCredentials(accessKeyID: document.AccessKeyId, secretAccessKey: document.SecretAccessKey,
                               sessionToken: document.Token), expires)
    }
}
