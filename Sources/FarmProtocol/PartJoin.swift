import Foundation

/// Asks an agent to build one part of an upload in parts inside the object
/// store: fetch `sources` in order with their presigned GET URLs, check each
/// one's size, and PUT their concatenation to `target` (a presigned UploadPart
/// URL) with `Content-MD5`. The store cannot join objects under 5 MiB itself,
/// so without this the coordinator would read every byte of `video.mp4` back.
/// A join takes no render slot: it is a few tens of MiB of network I/O.
public struct JoinPart: Codable, Sendable, Equatable {
    /// Names this request in the answer (`JoinedPart.id`).
    public var id: String
    public var videoID: String
    public var sources: [JoinSource]
    /// Presigned URL for the part's PUT.
    public var target: String

    public init(id: String, videoID: String, sources: [JoinSource], target: String) {
        self.id = id
        self.videoID = videoID
        self.sources = sources
        self.target = target
    }

    /// The part's size: the sum of its sources' (validated: no overflow, at most `maxPartBytes`).
    public var size: Int { sources.reduce(0) { $0 + $1.size } }

    /// The largest part a join may build (S3 allows 5 GiB; the farm's parts are 16 MiB plus one segment).
    public static let maxPartBytes = 512 << 20
    public static let maxSources = 10_000
}

/// One object to fetch for a join, and how large it must be.
public struct JoinSource: Codable, Sendable, Equatable {
    public var url: String
    public var size: Int

    public init(url: String, size: Int) {
        self.url = url
        self.size = size
    }
}

/// An agent's answer to a `JoinPart`: the part is stored (its size and the MD5
/// of what was sent), or why not.
public struct JoinedPart: Codable, Sendable, Equatable {
    public var id: String
    public var size: Int
    /// Lower-case hex MD5 of the part; empty when `error` is set.
    public var md5: String
    public var error: String?

    public init(id: String, size: Int, md5: String, error: String? = nil) {
        self.id = id
        self.size = size
        self.md5 = md5
        self.error = error
    }
}

extension JoinPart: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.identifier(id, "id")
        try Check.identifier(videoID, "videoID")
        guard !sources.isEmpty, sources.count <= Self.maxSources else {
            throw .invalidBody("a join of \(sources.count) sources, not 1–\(Self.maxSources)")
        }
        var total = 0
        for source in sources {
            try Check.url(source.url, "source URL")
            try Check.range(source.size, 0...MessageLimits.maxFileBytes, "source size")
            total += source.size  // at most 10,000 × 256 MiB: no overflow on 64 bits
        }
        try Check.range(total, 1...Self.maxPartBytes, "part size")
        try Check.url(target, "target URL")
    }
}

extension JoinedPart: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.identifier(id, "id")
        try Check.range(size, 0...JoinPart.maxPartBytes, "size")
        if let error {
            try Check.text(error, "error", limit: 4_096)
        } else {
            try Check.md5(md5, "a joined part's md5")
        }
    }
}

extension Check {
    /// Lower-case hex MD5.
    static func md5(_ value: String, _ field: String) throws(WireError) {
        guard value.utf8.count == 32, value.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw .invalidBody("\(field) is not 32 hex digits")
        }
    }

    static func url(_ value: String, _ field: String) throws(WireError) {
        guard value.utf8.count <= 4_096, value.hasPrefix("http://") || value.hasPrefix("https://") else {
            throw .invalidBody("\(field) is not an http(s) URL of at most 4 KiB")
        }
    }
}
