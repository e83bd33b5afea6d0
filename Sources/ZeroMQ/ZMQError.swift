import CZeroMQ

/// An error reported by libzmq, carrying its `errno` and message.
public struct ZMQError: Error, CustomStringConvertible, Sendable {
    /// The `errno` value libzmq set.
    public let code: Int32
    /// What the failing call was doing.
    public let operation: String

    /// Captures the current `zmq_errno()` for `operation`.
    static func last(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    public var description: String {
        "\(operation): \(String(cString: zmq_strerror(code))) (errno \(code))"
    }
}
