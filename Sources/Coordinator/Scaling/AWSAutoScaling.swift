import Crypto
import Foundation
import ObjectStorage
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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
    public var http: AWSHTTPClient

    /// `endpoint` defaults to the region's public endpoint; tests point it at a local server.
    public init(region: String, credentials: AWSCredentialsProvider, endpoint: URL? = nil, http: AWSHTTPClient = .shared) {
        self.region = region
        self.credentials = credentials
        self.http = http
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
        let body = Data(form.sorted { $0.key < $1.key }
            .map { "\(SignatureV4.encode($0.key))=\(SignatureV4.encode($0.value))" }.joined(separator: "&").utf8)
        let endpoint = self.endpoint, credentials = self.credentials
        let signer = SignatureV4(service: "autoscaling", region: region)
        // The same signer and HTTP client as the object store: retries on throttling and 5xx included.
        let (data, _) = try await http.send {
            var request = URLRequest(url: endpoint)
            request.httpMethod = "POST"
            request.httpBody = body
            let headers = signer.sign(
                method: "POST", url: endpoint, headers: ["content-type": "application/x-www-form-urlencoded; charset=utf-8"],
                payloadHash: SignatureV4.hex(SHA256.hash(data: body)), credentials: try await credentials.credentials(), date: Date())
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            return request
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func values(_ name: String, in xml: String) -> [String] {
        XMLValues.all(name, in: xml)
    }
}
