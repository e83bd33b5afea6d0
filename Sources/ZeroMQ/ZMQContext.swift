import CZeroMQ

/// Owns a libzmq context. Sockets keep a reference to it, so it is terminated
/// only after the last socket has closed (`zmq_ctx_term` would block otherwise).
public final class ZMQContext: @unchecked Sendable {
    // libzmq contexts are thread-safe; the pointer itself is never mutated.
    let handle: UnsafeMutableRawPointer

    /// Creates a context with libzmq's default I/O threads.
    public init() throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
    }

    deinit {
        zmq_ctx_term(handle)
    }

    /// Whether libzmq was built with `capability` (for example `"curve"`).
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) == 1
    }
}
