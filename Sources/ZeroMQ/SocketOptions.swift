import Foundation

/// The kinds of socket ManimFarm uses.
public enum SocketKind: Sendable {
    /// The coordinator's side: routes replies by peer identity.
    case router
    /// An agent's side: one connection to the coordinator.
    case dealer
}

/// Where and how a `ZMQSocket` attaches.
public struct SocketOptions: Sendable {
    /// The socket kind.
    public var kind: SocketKind
    /// Endpoints to bind (for example `tcp://*:5555`).
    public var bind: [String] = []
    /// Endpoints to connect to.
    public var connect: [String] = []
    /// The identity a DEALER presents, so a ROUTER sees the same peer across reconnects.
    public var routingID: Data?
    /// Outgoing and incoming message high-water marks.
    public var sendHighWaterMark: Int32 = 10_000
    public var receiveHighWaterMark: Int32 = 100_000
    /// Milliseconds unsent messages may linger when the socket closes.
    public var lingerMilliseconds: Int32 = 1_000
    /// Reconnect backoff bounds in milliseconds (libzmq doubles up to the maximum).
    public var reconnectInterval: Int32 = 100
    public var reconnectIntervalMax: Int32 = 2_000
    /// Largest message part libzmq accepts from a peer; a larger one drops the connection.
    public var maxMessageSize: Int64 = 64 << 20
    /// Most parts, and most bytes over all parts, of one received message; larger
    /// messages are dropped whole (libzmq's own limit is per part).
    public var maxParts = 4
    public var maxTotalMessageBytes = 96 << 20
    /// How peers authenticate and encrypt (CurveZMQ) or not.
    public var security: SocketSecurity = .plain
    /// A ROUTER watches its connections (libzmq's socket monitor) and reports each one
    /// that closes through `ZMQSocket.closedConnections`; messages carry their connection.
    public var watchConnections = false

    public init(kind: SocketKind) {
        self.kind = kind
    }
}

/// CurveZMQ settings of a socket. Keys are Z85 text, 40 characters.
public enum SocketSecurity: Sendable, Equatable {
    /// No authentication, no encryption: tests of the plain protocol only.
    case plain
    /// A CURVE server: encrypted; every client is authenticated by the ZAP
    /// handler of the same context (`ZAPHandler`) under `zapDomain`.
    case curveServer(secretKey: String, zapDomain: String)
    /// A CURVE client that talks only to the server holding `serverKey`'s secret.
    case curveClient(serverKey: String, publicKey: String, secretKey: String)
}
