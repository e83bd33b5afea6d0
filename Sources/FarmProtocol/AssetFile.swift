import Foundation

/// A file the script reads, sent with a task: the agent writes it beside the
/// script at `name` before Manim starts, after checking its size and SHA-256.
/// Its bytes come inline (the data folder) or from a presigned GET (an object store).
public struct AssetFile: Codable, Sendable, Equatable {
    public var name: String
    public var size: Int
    /// Lower-case hex SHA-256.
    public var sha256: String
    public var data: Data?
    public var url: String?

    public init(name: String, size: Int, sha256: String, data: Data? = nil, url: String? = nil) {
        self.name = name
        self.size = size
        self.sha256 = sha256
        self.data = data
        self.url = url
    }

    /// Assets of one video, and their bytes together.
    public static let maxCount = 64
    public static let maxTotalBytes = 16 << 20

    /// Whether `name` is a path an asset may have: 1–4 segments of letters, digits, `.`, `_`, `-`, none starting
    /// with a dot (no `..`, no hidden files), at most 200 bytes.
    public static func isSafeName(_ name: String) -> Bool {
        let segments = name.split(separator: "/", omittingEmptySubsequences: false)
        return !name.isEmpty && name.utf8.count <= 200 && (1...4).contains(segments.count) && segments.allSatisfy { segment in
            !segment.isEmpty && segment.first != "." && segment.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
        }
    }
}

extension AssetFile: ValidatedMessage {
    public func validate() throws(WireError) {
        guard Self.isSafeName(name) else { throw .invalidBody("an asset named \(name.prefix(64).debugDescription), not a safe relative path") }
        try Check.range(size, 0...Self.maxTotalBytes, "asset size")
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw .invalidBody("asset \(name)'s sha256 is not 64 hex digits")
        }
        if let data {
            guard data.count == size else { throw .invalidBody("asset \(name) carries \(data.count) bytes, announced \(size)") }
        } else if let url {
            try Check.url(url, "asset URL")
        } else {
            throw .invalidBody("asset \(name) has neither bytes nor a URL")
        }
    }
}
