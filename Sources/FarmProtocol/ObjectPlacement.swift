import Foundation

/// Where an attempt's files go when the farm publishes to an object store:
/// the agent writes every fragment's decode time for its final place on the
/// video's timeline and uploads each file itself, with a URL the coordinator
/// signed for this attempt only. Files without a URL take the ZeroMQ path.
public struct OutputPlacement: Codable, Sendable, Equatable {
    /// The task's first frame on the whole video's timeline; `nil` when it is
    /// not known yet (an earlier task's length is unknown): fragments then
    /// start at 0 and the coordinator moves them.
    public var firstFrame: Int?
    /// Presigned PUT URLs by file name (`r0-init.mp4`, `r0-3.m4s`, see `OutputPlacement.fileName`).
    public var uploads: [String: String]

    public init(firstFrame: Int?, uploads: [String: String]) {
        self.firstFrame = firstFrame
        self.uploads = uploads
    }

    /// The name of one file of an attempt, the same in staging and in the store.
    public static func fileName(_ file: SegmentID) -> String {
        if let segment = file.segment { return "r\(file.rendition)-\(segment).m4s" }
        return "r\(file.rendition)-init.mp4"
    }

    /// What `fileName` wrote, or `nil` for any other name.
    public static func file(named name: String) -> SegmentID? {
        guard name.hasPrefix("r") else { return nil }
        let parts = name.dropFirst().split(separator: "-", maxSplits: 1)
        guard parts.count == 2, let rendition = Int(parts[0]), rendition >= 0 else { return nil }
        if parts[1] == "init.mp4" { return SegmentID(rendition: rendition, segment: nil) }
        guard parts[1].hasSuffix(".m4s"), let segment = Int(parts[1].dropLast(4)), segment >= 0 else { return nil }
        return SegmentID(rendition: rendition, segment: segment)
    }
}

/// A file an agent put in the object store itself, with the MD5 of what it sent.
public struct StoredFile: Codable, Sendable, Equatable {
    public var name: String
    /// Lower-case hex MD5 of the body (the store checked it against `Content-MD5`).
    public var md5: String

    public init(name: String, md5: String) {
        self.name = name
        self.md5 = md5
    }
}

extension OutputPlacement: ValidatedMessage {
    public func validate() throws(WireError) {
        if let firstFrame { try Check.range(firstFrame, 0...MessageLimits.maxFrames, "firstFrame") }
        try Check.count(Array(uploads.keys), MessageLimits.maxRenditions * 2_000, "uploads")
        for (name, url) in uploads {
            guard Self.file(named: name) != nil else { throw .invalidBody("upload for \(name.prefix(64)), not a file of an attempt") }
            guard url.utf8.count <= 4_096, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw .invalidBody("upload URL for \(name) is not an http(s) URL")
            }
        }
    }
}

extension StoredFile: ValidatedMessage {
    public func validate() throws(WireError) {
        guard OutputPlacement.file(named: name) != nil else { throw .invalidBody("stored \(name.prefix(64)), not a file of an attempt") }
        try Check.md5(md5, "stored \(name)'s md5")
    }
}
