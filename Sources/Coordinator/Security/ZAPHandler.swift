import Foundation
import Logging
import ServiceLifecycle
import ZeroMQ

/// Answers libzmq's authentication requests (ZAP, RFC 27) for the agents'
/// CURVE socket: a client is admitted only if its public key is in the
/// keyring, and its connection's User-Id becomes that key, which the gateway
/// binds to the agent id it registers. A plaintext peer never gets this far:
/// the CURVE handshake refuses it first.
///
/// Must be created (it binds `inproc://zeromq.zap.01`) before the socket it
/// guards binds, in the same `ZMQContext`.
public final class ZAPHandler: Service {
    public static let domain = "manimfarm"
    private let socket: ZMQSocket
    private let keyring: AgentKeyring
    private let logger: Logger

    public init(context: ZMQContext, keyring: AgentKeyring, logger: Logger) throws {
        var options = SocketOptions(kind: .router)
        options.bind = ["inproc://zeromq.zap.01"]
        options.maxParts = 16
        options.maxTotalMessageBytes = 64 << 10
        socket = try ZMQSocket(context: context, options: options)
        self.keyring = keyring
        self.logger = logger
    }

    public func run() async throws {
        let socket = self.socket
        var refusals = 0
        await withGracefulShutdownHandler {
            for await request in socket.incoming {
                guard let peer = request.peer else { continue }
                let reply = answer(request.frames)
                if reply.status != "200" {
                    refusals += 1
                    if refusals <= 10 || refusals % 1_000 == 0 {
                        logger.warning("refused an agent connection", metadata: [
                            "reason": "\(reply.text)", "refusedSoFar": "\(refusals)",
                        ])
                    }
                }
                socket.send([Data(), Data("1.0".utf8), reply.requestID, Data(reply.status.utf8), Data(reply.text.utf8),
                             Data(reply.userID.utf8), Data()], to: peer)
            }
        } onGracefulShutdown: {
            Thread { socket.close() }.start()
        }
    }

    /// The reply to one request: [delimiter, version, request id, domain, address, identity, mechanism, credentials…].
    func answer(_ frames: [Data]) -> (requestID: Data, status: String, text: String, userID: String) {
        guard frames.count >= 7, frames[1] == Data("1.0".utf8) else {
            return (frames.count > 2 ? frames[2] : Data(), "500", "malformed ZAP request", "")
        }
        let requestID = frames[2]
        guard String(decoding: frames[3], as: UTF8.self) == Self.domain else { return (requestID, "400", "unknown domain", "") }
        guard String(decoding: frames[6], as: UTF8.self) == "CURVE", frames.count >= 8, frames[7].count == 32 else {
            return (requestID, "400", "CURVE is required", "")
        }
        guard let key = CurveKeys.z85(frames[7]) else { return (requestID, "400", "malformed key", "") }
        guard keyring.admit(key) != nil else { return (requestID, "400", "unknown key \(key)", "") }
        return (requestID, "200", "OK", key)
    }
}
