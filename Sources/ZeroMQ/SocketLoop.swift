import CZeroMQ
import Foundation

/// The body of a `ZMQSocket`'s thread: the only code that touches the socket.
final class SocketLoop: @unchecked Sendable {
    private let socket: UnsafeMutableRawPointer
    private let kind: SocketKind
    private let wakeFD: Int32
    // Strong on purpose: the socket lives until `close()` ends this loop.
    private let owner: ZMQSocket
    // Keeps the context alive until this socket is closed.
    private let context: ZMQContext
    private var waiting: [ZMQMessage] = []
    private let maxParts: Int
    private let maxMessageBytes: Int

    init(socket: SocketHandle, options: SocketOptions, wakeFD: Int32, owner: ZMQSocket, context: ZMQContext) {
        self.socket = socket.raw
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
            // Messages held back by a full peer are retried every few milliseconds.
            let timeout: Int = waiting.isEmpty ? -1 : 5
            let ready = zmq_poll(&items, 2, timeout)
            if ready < 0 {
                if zmq_errno() == EINTR { continue }
                break
            }
            if items[1].revents != 0 {
                var counter: UInt64 = 0
                _ = read(wakeFD, &counter, 8)
            }
            if items[0].revents & Int16(ZMQ_POLLIN) != 0 {
                receiveAvailable()
            }
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
                owner.deliver(ZMQMessage(peer: peer, frames: frames, userID: userID))
            } else {
                owner.deliver(ZMQMessage(frames: frames, userID: userID))
            }
        }
    }
}
