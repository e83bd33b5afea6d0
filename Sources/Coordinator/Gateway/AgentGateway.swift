import FarmProtocol
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// The coordinator's ZeroMQ side: a ROUTER socket that agents' DEALERs connect
/// to. Decodes what arrives and hands it to the engine; refuses peers that
/// speak another protocol version; counts and drops anything malformed.
public final class AgentGateway: Service {
    /// The ZeroMQ socket; its `boundEndpoints` tell where agents can connect.
    public let socket: ZMQSocket
    private let engine: FarmEngine
    /// Whether peers authenticate with CurveZMQ keys.
    private let curve: Bool
    private let logger: Logger

    /// Binds `endpoints` (for example `tcp://*:5555`).
    /// With `secretKey`, the socket is a CURVE server: only agents whose keys the
    /// ZAP handler admits can connect (create the `ZAPHandler` first). Without, it is plain.
    public init(endpoints: [String], engine: FarmEngine, context: ZMQContext, secretKey: String?, logger: Logger) throws {
        var options = SocketOptions(kind: .router)
        options.bind = endpoints
        if let secretKey { options.security = .curveServer(secretKey: secretKey, zapDomain: ZAPHandler.domain) }
        curve = secretKey != nil
        // A farm message is a header, a body and at most one blob, each bounded by FarmWire.
        options.maxParts = 3
        options.maxMessageSize = Int64(FarmWire.maxBodySize + 8)
        options.maxTotalMessageBytes = FarmWire.maxBodySize + FarmWire.maxBlobSize + 64
        // A crashed agent's connection closes at once: noticed in well under a second, not after the lease.
        options.watchConnections = true
        socket = try ZMQSocket(context: context, options: options)
        self.engine = engine
        self.logger = logger
    }

    public func run() async throws {
        let socket = self.socket
        await engine.connect { message, peer in socket.send(FarmWire.encode(message), to: peer) }
        var malformed = MalformedCounter()
        var bindings = KeyBindings(keysRequired: curve)
        let connections = ConnectionTable()
        let engine = self.engine
        // Results wait on the disk and the store: each is handled in a child of this group
        // (so the next agents' messages need not wait), and shutdown waits for them.
        await withDiscardingTaskGroup { group in
        group.addTask {
            for await connection in socket.closedConnections {
                if let peer = connections.closed(connection) { await engine.connectionClosed(peer: peer) }
            }
        }
        await withGracefulShutdownHandler {
            for await message in socket.incoming {
                guard let peer = message.peer else { continue }
                if let connection = message.connection { connections.note(connection, peer: peer) }
                let decoded: FarmMessage
                do {
                    decoded = try FarmWire.decode(message.frames)
                } catch {
                    if case WireError.unsupportedVersion(let version) = error {
                        socket.send(FarmWire.encode(.refused(Refused(
                            reason: "this coordinator speaks protocol version \(FarmWire.version), not \(version)"))), to: peer)
                    }
                    await engine.noteMalformed()
                    if malformed.record(peer: peer) {
                        logger.warning("dropped malformed message", metadata: [
                            "peer": "\(peer.map { String(format: "%02x", $0) }.joined())", "error": "\(error)",
                            "droppedSoFar": "\(malformed.total)",
                        ])
                    }
                    continue
                }
                if let refusal = bindings.check(decoded, from: peer, key: message.userID) {
                    await engine.noteMalformed()
                    if malformed.record(peer: peer) {
                        logger.warning("refused an agent message", metadata: ["reason": "\(refusal)", "key": "\(message.userID ?? "none")"])
                    }
                    socket.send(FarmWire.encode(.refused(Refused(reason: refusal))), to: peer)
                    continue
                }
                switch decoded {
                case .result, .planned:
                    // Its chunks were all handled (in order) before it.
                    group.addTask { await self.engine.handle(decoded, from: peer) }
                default:
                    await engine.handle(decoded, from: peer)
                }
            }
        } onGracefulShutdown: {
            // close() waits for the socket thread; keep that wait off the cooperative pool.
            Thread { socket.close() }.start()
        }
        }
    }
}

/// Which peer each open connection carries, so a closed connection names its agent.
final class ConnectionTable: Sendable {
    private let peers = Mutex<[Int32: Data]>([:])

    func note(_ connection: Int32, peer: Data) {
        peers.withLock { table in
            if table[connection] != peer { table[connection] = peer }
        }
    }

    /// Forgets a closed connection; the peer it carried, if it carried one.
    func closed(_ connection: Int32) -> Data? {
        peers.withLock { $0.removeValue(forKey: connection) }
    }
}

/// Counts malformed messages and rate-limits their logging to once per peer per minute.
struct MalformedCounter {
    private(set) var total = 0
    private var lastLogged: [Data: ContinuousClock.Instant] = [:]

    /// Records one; returns whether to log it.
    mutating func record(peer: Data, now: ContinuousClock.Instant = .now) -> Bool {
        total += 1
        if let last = lastLogged[peer], now - last < .seconds(60) { return false }
        if lastLogged.count > 10_000 { lastLogged.removeAll() }
        lastLogged[peer] = now
        return true
    }
}

/// Ties identities to CURVE keys: a connection (its ROUTER identity) keeps the
/// key it first spoke with, and an agent id belongs to the key that first
/// registered it. So an admitted agent cannot speak for another: not by
/// connecting under its identity, nor by registering its id.
struct KeyBindings {
    /// Under CURVE every message must carry the key its connection authenticated with.
    let keysRequired: Bool
    private var keyByPeer: [Data: String] = [:]
    private var keyByAgent: [String: String] = [:]
    static let capacity = 100_000

    init(keysRequired: Bool) {
        self.keysRequired = keysRequired
    }

    /// Why `message` from `peer` (authenticated as `key`) is refused, or `nil` to accept it.
    mutating func check(_ message: FarmMessage, from peer: Data, key: String?) -> String? {
        guard let key else { return keysRequired ? "no authenticated key" : nil }  // plain: nothing to bind
        if let bound = keyByPeer[peer], bound != key { return "this connection identity belongs to another key" }
        if case .register(let register) = message {
            if let bound = keyByAgent[register.agentID], bound != key {
                return "agent id \(register.agentID) is registered with another key"
            }
            if keyByAgent.count >= Self.capacity { keyByAgent.removeAll() }
            keyByAgent[register.agentID] = key
        }
        if keyByPeer.count >= Self.capacity { keyByPeer.removeAll() }
        keyByPeer[peer] = key
        return nil
    }
}
