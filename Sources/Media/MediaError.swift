import CFFmpeg

/// A libav call failed.
public struct MediaError: Error, CustomStringConvertible, Sendable {
    /// What was being done.
    public let operation: String
    /// libav's error code (negative), or 0 where no code applies.
    public let code: Int32

    init(_ operation: String, code: Int32 = 0) {
        self.operation = operation
        self.code = code
    }

    public var description: String {
        guard code != 0 else { return operation }
        var buffer = [CChar](repeating: 0, count: 128)
        let text = String(cString: cff_err2str(code, &buffer, buffer.count))
        return "\(operation): \(text)"
    }
}

/// Throws a `MediaError` for a negative libav status.
@inline(__always)
func check(_ status: Int32, _ operation: @autoclosure () -> String) throws(MediaError) {
    if status < 0 { throw MediaError(operation(), code: status) }
}
