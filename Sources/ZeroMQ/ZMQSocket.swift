import CZeroMQ
import Foundation
import Glibc
import Synchronization

/// A multipart message crossing a `ZMQSocket`.
public struct ZMQMessage: Sendable {
    /// The peer's routing identity: set on everything a ROUTER receives, and
    /// required on everything sent through one. Always `nil` for a DEALER.
    public var peer: Data?
    /// The identity the ZAP handler gave the sending connection (under CURVE, from its key).
    public var userID: String?
    /// The message's frames, without the routing identity.
    public var frames: [Data]
    /// The connection (its file descriptor) a ROUTER received the message on, when it
    /// watches connections: what `closedConnections` later names.
    public var connection: Int32?

    public init(peer: Data? = nil, frames: [Data], userID: String? = nil, connection: Int32? = nil) {
        self.peer = peer
        self.frames = frames
        self.userID = userID
        self.connection = connection
    }
}

/// A ZeroMQ socket owned by one dedicated OS thread.
///
/// libzmq sockets are not thread-safe and their calls block, so the socket never
/// touches Swift's cooperative pool: its thread loops on `zmq_poll` over the
/// socket and an eventfd. `send` enqueues and signals the eventfd; received
/// messages flow out through `incoming`.
///
/// ROUTER sockets use `ZMQ_ROUTER_MANDATORY`, so a message to a peer past its
/// high-water mark waits in the outbox (EAGAIN) instead of being silently
/// dropped, and a message to a vanished peer is reported through `undeliverable`.
///
/// Call `close()` when done: the thread keeps the socket alive until then.
public final class ZMQSocket: Sendable {
    /// Messages received, in arrival order. Finishes when the socket closes.
    public let incoming: AsyncStream<ZMQMessage>
    /// Messages that could not be delivered because their peer is gone.
    public let undeliverable: AsyncStream<ZMQMessage>
    /// The endpoints actually bound (wildcard ports resolved).
    public let boundEndpoints: [String]
    /// Connections (as `ZMQMessage.connection`) that closed: a peer's process ended or
    /// its link dropped. Only with `SocketOptions.watchConnections`.
    public let closedConnections: AsyncStream<Int32>

    private let state: Mutex<Outbox>
    private let wakeFD: Int32
    private let incomingContinuation: AsyncStream<ZMQMessage>.Continuation
    private let undeliverableContinuation: AsyncStream<ZMQMessage>.Continuation
    private let closedContinuation: AsyncStream<Int32>.Continuation
    private let finished = DispatchSemaphore(value: 0)
    private let oversized = Atomic<Int>(0)

    /// Messages dropped for having more parts or bytes than `SocketOptions` allow.
    public var oversizedDropped: Int { oversized.load(ordering: .relaxed) }

    private struct Outbox {
        var pending: [ZMQMessage] = []
        var closing = false
    }

    /// Opens, configures, binds and connects a socket, then starts its thread.
    /// - Throws: `ZMQError` if an option, bind or connect fails.
    public init(context: ZMQContext, options: SocketOptions) throws {
        let type = options.kind == .router ? ZMQ_ROUTER : ZMQ_DEALER
        guard let socket = zmq_socket(context.handle, type) else { throw ZMQError.last("zmq_socket") }
        let fd = czmq_eventfd()
        guard fd >= 0 else {
            zmq_close(socket)
            throw ZMQError(code: errno, operation: "eventfd")
        }
        var bound: [String] = []
        var monitor: UnsafeMutableRawPointer?
        do {
            try Self.configure(socket, options)
            if options.watchConnections {
                // Before any bind: no connection goes unwatched. The monitor's PAIR is read by the socket's own thread.
                let endpoint = "inproc://farm-monitor-\(UUID().uuidString)"
                guard zmq_socket_monitor(socket, endpoint, ZMQ_EVENT_DISCONNECTED) == 0 else {
                    throw ZMQError.last("zmq_socket_monitor")
                }
                guard let pair = zmq_socket(context.handle, ZMQ_PAIR) else { throw ZMQError.last("zmq_socket PAIR") }
                monitor = pair
                guard zmq_connect(pair, endpoint) == 0 else { throw ZMQError.last("zmq_connect \(endpoint)") }
            }
            for endpoint in options.bind {
                guard zmq_bind(socket, endpoint) == 0 else { throw ZMQError.last("zmq_bind \(endpoint)") }
                bound.append(Self.lastEndpoint(socket) ?? endpoint)
            }
            for endpoint in options.connect {
                guard zmq_connect(socket, endpoint) == 0 else { throw ZMQError.last("zmq_connect \(endpoint)") }
            }
        } catch {
            if let monitor { zmq_close(monitor) }
            zmq_close(socket)
            Glibc.close(fd)
            throw error
        }
        boundEndpoints = bound
        wakeFD = fd
        state = Mutex(Outbox())
        (incoming, incomingContinuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        (undeliverable, undeliverableContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1_000))
        (closedConnections, closedContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))

        let loop = SocketLoop(
            socket: SocketHandle(raw: socket), monitor: monitor.map(SocketHandle.init(raw:)), options: options, wakeFD: fd,
            owner: self, context: context)
        let thread = Thread { loop.run() }
        thread.name = "zmq-\(options.kind)"
        thread.start()
    }

    deinit {
        Glibc.close(wakeFD)
    }

    /// Queues `frames` for sending; for a ROUTER, `peer` names the recipient.
    /// Returns immediately; never blocks on the network.
    public func send(_ frames: [Data], to peer: Data? = nil) {
        let accepted = state.withLock { outbox -> Bool in
            guard !outbox.closing else { return false }
            outbox.pending.append(ZMQMessage(peer: peer, frames: frames))
            return true
        }
        if accepted { wake() }
    }

    /// Number of messages queued and not yet handed to libzmq.
    public var pendingCount: Int {
        state.withLock { $0.pending.count }
    }

    /// Stops the thread: pending messages get one last try, then the socket
    /// closes with its linger. Safe to call more than once; waits for the thread.
    public func close() {
        let first = state.withLock { outbox -> Bool in
            defer { outbox.closing = true }
            return !outbox.closing
        }
        guard first else { return }
        wake()
        finished.wait()
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: Thread side

    func takePending() -> (messages: [ZMQMessage], closing: Bool) {
        state.withLock { outbox in
            defer { outbox.pending.removeAll(keepingCapacity: true) }
            return (outbox.pending, outbox.closing)
        }
    }

    func requeue(_ messages: [ZMQMessage]) {
        guard !messages.isEmpty else { return }
        state.withLock { $0.pending.insert(contentsOf: messages, at: 0) }
    }

    func noteOversized() {
        oversized.add(1, ordering: .relaxed)
    }

    func deliver(_ message: ZMQMessage) {
        incomingContinuation.yield(message)
    }

    func reportUndeliverable(_ message: ZMQMessage) {
        undeliverableContinuation.yield(message)
    }

    func reportClosed(_ connection: Int32) {
        closedContinuation.yield(connection)
    }

    func didFinish() {
        incomingContinuation.finish()
        undeliverableContinuation.finish()
        closedContinuation.finish()
        finished.signal()
    }

    private static func configure(_ socket: UnsafeMutableRawPointer, _ options: SocketOptions) throws {
        func set(_ option: Int32, _ value: Int32) throws {
            var value = value
            guard zmq_setsockopt(socket, option, &value, MemoryLayout<Int32>.size) == 0 else {
                throw ZMQError.last("zmq_setsockopt \(option)")
            }
        }
        try set(ZMQ_SNDHWM, options.sendHighWaterMark)
        try set(ZMQ_RCVHWM, options.receiveHighWaterMark)
        try set(ZMQ_LINGER, options.lingerMilliseconds)
        try set(ZMQ_RECONNECT_IVL, options.reconnectInterval)
        try set(ZMQ_RECONNECT_IVL_MAX, options.reconnectIntervalMax)
        var maxSize = options.maxMessageSize
        guard zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &maxSize, MemoryLayout<Int64>.size) == 0 else {
            throw ZMQError.last("zmq_setsockopt ZMQ_MAXMSGSIZE")
        }
        func set(_ option: Int32, key: String) throws {
            // Z85 keys are passed with their terminating NUL (41 bytes).
            guard key.utf8.count == 40 else { throw ZMQError(code: EINVAL, operation: "CURVE key of \(key.utf8.count) characters") }
            let status = key.withCString { zmq_setsockopt(socket, option, $0, 41) }
            guard status == 0 else { throw ZMQError.last("zmq_setsockopt \(option)") }
        }
        switch options.security {
        case .plain:
            break
        case .curveServer(let secretKey, let zapDomain):
            try set(ZMQ_CURVE_SERVER, 1)
            try set(ZMQ_CURVE_SECRETKEY, key: secretKey)
            let status = zapDomain.withCString { zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, $0, zapDomain.utf8.count) }
            guard status == 0 else { throw ZMQError.last("zmq_setsockopt ZMQ_ZAP_DOMAIN") }
        case .curveClient(let serverKey, let publicKey, let secretKey):
            try set(ZMQ_CURVE_SERVERKEY, key: serverKey)
            try set(ZMQ_CURVE_PUBLICKEY, key: publicKey)
            try set(ZMQ_CURVE_SECRETKEY, key: secretKey)
        }
        if options.kind == .router {
            try set(ZMQ_ROUTER_MANDATORY, 1)
            // Plain sockets only: an agent that reconnects with the same identity replaces its stale
            // connection. Under CURVE the ROUTER names peers itself and identities come from keys,
            // so no newcomer can take over another peer's connection.
            if options.security == .plain { try set(ZMQ_ROUTER_HANDOVER, 1) }
            // Dead connections are noticed (ZMTP heartbeats) rather than kept until TCP gives up.
            try set(ZMQ_HEARTBEAT_IVL, 2_000)
            try set(ZMQ_HEARTBEAT_TIMEOUT, 6_000)
        }
        if let id = options.routingID {
            let status = id.withUnsafeBytes { zmq_setsockopt(socket, ZMQ_ROUTING_ID, $0.baseAddress, id.count) }
            guard status == 0 else { throw ZMQError.last("zmq_setsockopt ZMQ_ROUTING_ID") }
        }
    }

    private static func lastEndpoint(_ socket: UnsafeMutableRawPointer) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return nil }
        return String(cString: buffer)
    }
}

/// The raw socket pointer, handed once from the creating thread to the loop thread.
struct SocketHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
}
