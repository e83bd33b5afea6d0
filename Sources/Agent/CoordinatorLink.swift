import Foundation
import Synchronization
import ZeroMQ

/// The agent's connection to the active coordinator: a DEALER socket to one
/// of several coordinator endpoints, moved to the next endpoint on failover.
/// Messages from whichever socket is current arrive on one stream.
final class CoordinatorLink: Sendable {
    /// Messages from the coordinator, across failovers.
    let messages: AsyncStream<[Data]>
    let endpoints: [String]
    private let continuation: AsyncStream<[Data]>.Continuation
    private let context: ZMQContext
    private let identity: Data
    private let current: Mutex<(socket: ZMQSocket?, index: Int)>

    private let curve: AgentCurve?

    init(context: ZMQContext, endpoints: [String], identity: Data, curve: AgentCurve?) throws {
        precondition(!endpoints.isEmpty, "at least one coordinator endpoint")
        self.context = context
        self.curve = curve
        self.endpoints = endpoints
        self.identity = identity
        (messages, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        current = Mutex((nil, 0))
        try open(index: 0)
    }

    /// The endpoint currently connected to.
    var endpoint: String {
        endpoints[current.withLock { $0.index }]
    }

    /// Sends on the current socket; never blocks.
    func send(_ frames: [Data]) {
        current.withLock { $0.socket }?.send(frames)
    }

    /// Moves to the next endpoint (when there is more than one). Returns the new endpoint.
    @discardableResult
    func failover() throws -> String {
        guard endpoints.count > 1 else { return endpoint }
        let next = (current.withLock { $0.index } + 1) % endpoints.count
        try open(index: next)
        return endpoints[next]
    }

    /// Closes the socket after its last messages had their linger to leave.
    /// Forwards what the current socket receives to `messages`, moving to the next socket
    /// when a failover replaces it; returns once the link is closed. Run it in the agent's task group.
    func run() async {
        while let socket = current.withLock({ $0.socket }) {
            for await message in socket.incoming { continuation.yield(message.frames) }
            // That socket closed: a failover replaced it (go on with the new one), or the link closed.
            if current.withLock({ $0.socket }) === socket { return }
        }
    }

    func close() {
        let socket = current.withLock { state -> ZMQSocket? in
            defer { state.socket = nil }
            return state.socket
        }
        socket?.close()
        continuation.finish()
    }

    private func open(index: Int) throws {
        var options = SocketOptions(kind: .dealer)
        options.connect = [endpoints[index]]
        options.routingID = identity
        if let curve {
            options.security = .curveClient(serverKey: curve.coordinatorKey, publicKey: curve.publicKey, secretKey: curve.secretKey)
        }
        let socket = try ZMQSocket(context: context, options: options)
        let previous = current.withLock { state -> ZMQSocket? in
            defer { state = (socket, index) }
            return state.socket
        }
        if let previous {
            // close() waits out the linger; keep that off the caller (and off Dispatch's shared pool).
            Thread { previous.close() }.start()
        }
    }
}
