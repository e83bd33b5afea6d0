import Foundation
import ZeroMQ

/// How an agent gets its CurveZMQ identity.
public enum AgentEnrollment {
    /// The agent's key pair from `keyFile` (created on first use), pinning `coordinatorKey`.
    public static func curve(coordinatorKey: String, keyFile: URL) throws -> AgentCurve {
        let (publicKey, secretKey) = try CurveKeys.load(secretFile: keyFile, create: true)
        return AgentCurve(coordinatorKey: coordinatorKey, publicKey: publicKey, secretKey: secretKey)
    }

    /// For an agent on the coordinator's own host (`farm up`, tests, one-machine setups):
    /// reads the coordinator's public key from its keys folder and admits this agent's key there.
    /// Needs write access to that folder, which is the same trust as holding the coordinator's key.
    public static func enrollLocally(keysFolder: URL, keyFile: URL, name: String) throws -> AgentCurve {
        let coordinatorKey = try CurveKeys.publicKey(argument: "@" + keysFolder.appendingPathComponent("coordinator.pub").path)
        let curve = try curve(coordinatorKey: coordinatorKey, keyFile: keyFile)
        try AuthorizedKeys.add(curve.publicKey, name: name, to: keysFolder.appendingPathComponent("authorized_agents"))
        return curve
    }
}
