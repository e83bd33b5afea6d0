/// Why a received message could not be decoded. Receivers count and drop such
/// messages; none of these may crash a process.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer frames than the envelope needs, or a header of the wrong size.
    case malformedEnvelope
    /// The header does not start with the protocol's magic bytes.
    case badMagic
    /// The peer speaks a protocol version this side does not.
    case unsupportedVersion(UInt8)
    /// The header names a message kind this side does not know.
    case unknownKind(UInt8)
    /// A frame declares a size beyond `WireLimits`.
    case tooLarge(declared: Int)
    /// An LZ4 frame did not decompress to its declared size.
    case corruptCompression
    /// The body is not a valid encoding of the declared message.
    case invalidBody(String)

    public var description: String {
        switch self {
        case .malformedEnvelope: "malformed envelope"
        case .badMagic: "bad magic"
        case .unsupportedVersion(let v): "unsupported protocol version \(v) (this side speaks \(FarmWire.version))"
        case .unknownKind(let k): "unknown message kind \(k)"
        case .tooLarge(let n): "declared size \(n) exceeds the limit"
        case .corruptCompression: "corrupt LZ4 frame"
        case .invalidBody(let why): "invalid body: \(why)"
        }
    }
}
