import Foundation

/// Where a provider's API key comes from: given (an environment variable, read at start), or a file that a
/// secret store's agent writes and rotates, read at every call so a rotated key takes effect at once.
public enum GenerationSecret: Sendable, CustomStringConvertible {
    case value(String)
    case file(String)

    public struct Unreadable: Error, CustomStringConvertible {
        public var description: String
    }

    public func read() throws -> String {
        switch self {
        case .value(let key):
            return key
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), data.count <= 4_096 else {
                throw Unreadable(description: "the API key file \(path) cannot be read (or is larger than 4 KiB)")
            }
            let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty else { throw Unreadable(description: "the API key file \(path) is empty") }
            return key
        }
    }

    /// Never the key itself.
    public var description: String {
        switch self {
        case .value: "a key from the environment"
        case .file(let path): "the key in \(path)"
        }
    }
}
