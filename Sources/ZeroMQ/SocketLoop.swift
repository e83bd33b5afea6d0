import CZeroMQ
import Foundation

/// The body of a `ZMQSocket`'s thread: the only code that touches the socket.
final class SocketLoop: @unchecked Sendable {
    private let socket: UnsafeMutableRawPointer
    /// The PAIR end of the socket's monitor, when it watches its connections.
    private let monitor: UnsafeMutableRawPointer?
    private let kind: SocketKind
    private let wakeFD: Int32
    // Strong on purpose: the socket lives until `close()` ends this loop.
    private let owner: ZMQSocket
    // Keeps the context alive until this socket is closed.
    private let context: ZMQContext
    private var waiting: [ZMQMessage] = []
    private let maxParts: Int
    private let maxMessageBytes: Int

    init(socket: SocketHandle, monitor: SocketHandle?, options: SocketOptions, wakeFD: Int32, owner: ZMQSocket,
         context: ZMQContext) {
        self.socket = socket.raw
        self.monitor = monitor?.raw
        self.kind = options.kind
        self.maxParts = options.maxParts
        self.maxMessageBytes = options.maxTotalMessageBytes
        self.wakeFD = wakeFD
        self.owner = owner
        self.context = context
    }

    func run() {
        var closing = false
        while true {
            let (fresh, closeRequested) = owner.takePending()
            waiting.append(contentsOf: fresh)
            closing = closing || closeRequested
            flush()
            if closing { break }

            var items = [
                zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
                zmq_pollitem_t(socket: nil, fd: wakeFD, events: Int16(ZMQ_POLLIN), revents: 0),
            ]
            if let monitor { items.append(zmq_pollitem_t(socket: monitor, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)) }
            // Messages held back by a full peer are retried every few milliseconds.
            let timeout: Int = waiting.isEmpty ? -1 : 5
            let ready = zmq_poll(&items, Int32(items.count), timeout)
            if ready < 0 {
                if zmq_errno() == EINTR { continue }
                break
            }
            if items[1].revents != 0 {
                var counter: UInt64 = 0
                _ = read(wakeFD, &counter, 8)
            }
            // Closed connections first: a message on a new connection that reuses a closed one's
            // descriptor must not be mistaken for the old peer's.
            if items.count > 2, items[2].revents & Int16(ZMQ_POLLIN) != 0 {
                readMonitorEvents()
            }
            if items[0].revents & Int16(ZMQ_POLLIN) != 0 {
                receiveAvailable()
            }
        }
        if let monitor {
            zmq_socket_monitor(socket, nil, 0)
            zmq_close(monitor)
        }
        zmq_close(socket)
        owner.didFinish()
    }

    /// Hands queued messages to libzmq, keeping per-peer order: once a peer's
    /// message would block, later messages to that peer wait too.
    private func flush() {
        guard !waiting.isEmpty else { return }
        var blocked = Set<Data>()
        var keep: [ZMQMessage] = []
        let noPeer = Data()
        for message in waiting {
            let key = message.peer ?? noPeer
            if blocked.contains(key) {
                keep.append(message)
                continue
            }
            switch sendNow(message) {
            case .sent:
                break
            case .wouldBlock:
                blocked.insert(key)
                keep.append(message)
            case .unreachable:
                owner.reportUndeliverable(message)
            }
        }
        waiting = keep
    }

    private enum SendOutcome { case sent, wouldBlock, unreachable }

    private func sendNow(_ message: ZMQMessage) -> SendOutcome {
        var frames = message.frames
        if kind == .router {
            guard let peer = message.peer else { return .unreachable }
            frames.insert(peer, at: 0)
        }
        for (index, frame) in frames.enumerated() {
            let more = index < frames.count - 1
            let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
            let status = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, frame.count, flags) }
            if status < 0 {
                let code = zmq_errno()
                // Only the first frame can fail this way: libzmq queues the rest of a multipart atomically.
                if code == EAGAIN { return .wouldBlock }
                return .unreachable
            }
        }
        return .sent
    }

    /// Reads the monitor's events: two frames each, the first a 16-bit event and a 32-bit
    /// value (the connection's descriptor), the second the endpoint.
    private func readMonitorEvents() {
        guard let monitor else { return }
        while true {
            var event = zmq_msg_t()
            zmq_msg_init(&event)
            defer { zmq_msg_close(&event) }
            guard zmq_msg_recv(&event, monitor, ZMQ_DONTWAIT) >= 0 else { return }
            var kind: UInt16 = 0, value: UInt32 = 0
            if zmq_msg_size(&event) >= 6 {
                let bytes = zmq_msg_data(&event)!
                memcpy(&kind, bytes, 2)
                memcpy(&value, bytes + 2, 4)
            }
            // The endpoint frame.
            while zmq_msg_more(&event) == 1 {
                var rest = zmq_msg_t()
                zmq_msg_init(&rest)
                let size = zmq_msg_recv(&rest, monitor, 0)
                let more = size >= 0 && zmq_msg_more(&rest) == 1
                zmq_msg_close(&rest)
                if !more { break }
            }
            if Int32(kind) == ZMQ_EVENT_DISCONNECTED { owner.reportClosed(Int32(bitPattern: value)) }
        }
    }

    /// Reads every complete message. One with more parts or bytes than the
    /// options allow is read to its end and dropped, counted in `oversizedDropped`:
    /// libzmq bounds each part only, not their number or sum.
    private func receiveAvailable() {
        while true {
            var frames: [Data] = []
            var received = 0
            var bytes = 0
            var oversized = false
            var userID: String?
            var connection: Int32?
            var more = true
            while more {
                var msg = zmq_msg_t()
                zmq_msg_init(&msg)
                defer { zmq_msg_close(&msg) }
                let size = zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT)
                if size < 0 {
                    // EAGAIN at a message boundary: nothing more to read now.
                    if received == 0 { return }
                    continue
                }
                received += 1
                // The identity frame a ROUTER prepends carries no metadata: read it from the peer's own frames.
                if userID == nil, let property = zmq_msg_gets(&msg, "User-Id") { userID = String(cString: property) }
                if monitor != nil, connection == nil {
                    let descriptor = zmq_msg_get(&msg, ZMQ_SRCFD)
                    if descriptor >= 0 { connection = descriptor }
                }
                bytes += Int(size)  // each part is bounded by ZMQ_MAXMSGSIZE
                more = zmq_msg_more(&msg) == 1
                // The routing identity a ROUTER prepends is not one of the peer's parts.
                let parts = kind == .router ? received - 1 : received
                if parts > maxParts || bytes > maxMessageBytes { oversized = true }
                if !oversized { frames.append(Data(bytes: zmq_msg_data(&msg), count: Int(size))) }
            }
            if oversized {
                owner.noteOversized()
                continue
            }
            if kind == .router {
                let peer = frames.removeFirst()
                owner.deliver(ZMQMessage(peer: peer, frames: frames, userID: userID, connection: connection))
            } else {
                owner.deliver(ZMQMessage(frames: frames, userID: userID))
            }
        }
    }
}
