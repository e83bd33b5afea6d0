import Foundation
import ZeroMQ

/// The coordinator's CurveZMQ identity and where its trust lives.
///
/// The secret key comes from `secretKeyFile` (for example written from the
/// cloud's secret store), else from `<data>/keys/coordinator.key`, generated
/// on first start with mode 0600. The public key is written beside it as
/// `coordinator.pub` for agents to pin. Every coordinator that agents may
/// fail over to must hold the same secret key.
public struct CoordinatorKeys: Sendable {
    public var publicKey: String
    public var secretKey: String
    /// The file listing the agents' public keys (see `AgentKeyring`).
    public var authorizedAgents: URL

    /// The folder of generated keys under a coordinator's data folder.
    public static func folder(dataDirectory: URL) -> URL {
        dataDirectory.appendingPathComponent("keys")
    }

    public static func load(dataDirectory: URL, secretKeyFile: URL? = nil, authorizedAgents: URL? = nil) throws -> CoordinatorKeys {
        let folder = folder(dataDirectory: dataDirectory)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let secretFile = secretKeyFile ?? folder.appendingPathComponent("coordinator.key")
        // Generated only where the operator named no file: a missing production key is an error, not a new identity.
        let (publicKey, secretKey) = try CurveKeys.load(secretFile: secretFile, create: secretKeyFile == nil)
        try Data((publicKey + "\n").utf8).write(to: folder.appendingPathComponent("coordinator.pub"), options: .atomic)
        return CoordinatorKeys(publicKey: publicKey, secretKey: secretKey,
                               authorizedAgents: authorizedAgents ?? folder.appendingPathComponent("authorized_agents"))
    }
}
