import FarmModel
import FarmProtocol
import Foundation
import ObjectStorage

/// Publishing to an S3-compatible object store instead of the data folder.
///
/// Layout in the bucket:
/// - `<staging prefix><video>/<task>/a<attempt>/<file>` (`staging/` by default): what each
///   attempt uploaded, through URLs signed for that attempt only. Never referenced by a
///   playlist and never behind the CDN; the bucket's lifecycle rule expires the prefix.
/// - `<prefix><video>/…` (the `s3://bucket/prefix` of `--storage`): the published video,
///   laid out as in the data folder (`master.m3u8`, `<rung>/index.m3u8`, `<rung>/init.mp4`,
///   `<rung>/segment_00001.m4s`, `video.mp4`). Segments get there by a copy inside the
///   store. The CDN's origin path is the prefix, so a video is `https://CDN/<video>/master.m3u8`.
public struct ObjectOutputConfiguration: Sendable {
    /// Where videos are published: the object store, or the data folder.
    public var store: any ObjectStore
    /// Signs agents' uploads and readers' downloads; `nil` for the data folder.
    public var s3: S3Client?
    /// Key prefix of published videos, empty or ending in `/`.
    public var prefix: String
    /// Key prefix of attempts' uploads, ending in `/`; must not be under `prefix`.
    public var stagingPrefix: String
    /// The CDN (or bucket website) in front of `videos/`, e.g. `https://d1234.cloudfront.net`; status
    /// and `farm submit` print URLs under it. Without one, the API redirects to presigned URLs.
    public var publicBaseURL: URL?
    /// Key prefix of cached renders (kept until the cache evicts them; not under the CDN, not expired by the lifecycle rule).
    public var cachePrefix = "cache/"
    /// How long an attempt's upload URLs stay valid: longer than a render may run.
    public var uploadURLSeconds = 6 * 3_600
    /// In the data folder an accepted attempt's files are its task's `accepted` staging folder.
    var acceptedInStaging = false

    public init(client: S3Client, prefix: String, stagingPrefix: String = "staging/", publicBaseURL: URL? = nil) {
        self.store = client
        self.s3 = client
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.stagingPrefix = stagingPrefix.hasSuffix("/") ? stagingPrefix : stagingPrefix + "/"
        self.publicBaseURL = publicBaseURL
    }

    /// The data folder: `published/<video>/…` as before, fed from `staging/<video>/<task>/accepted/`.
    static func dataFolder(_ directory: URL) -> ObjectOutputConfiguration {
        var configuration = ObjectOutputConfiguration(store: LocalFolderStore(root: directory), prefix: "published/")
        configuration.acceptedInStaging = true
        return configuration
    }

    private init(store: any ObjectStore, prefix: String) {
        self.store = store
        self.prefix = prefix
        self.stagingPrefix = "staging/"
    }

    /// A cached render kept in the store says so in its `artifactPath`: this, then its key prefix.
    static let storedCacheMarker = "object-store:"

    static func storedCachePrefix(_ artifactPath: String) -> String? {
        artifactPath.hasPrefix(storedCacheMarker) ? String(artifactPath.dropFirst(storedCacheMarker.count)) : nil
    }

    /// Reads `s3://bucket/prefix`.
    public static func parse(_ text: String) -> (bucket: String, prefix: String)? {
        guard text.hasPrefix("s3://") else { return nil }
        let rest = text.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
        guard (3...63).contains(bucket.count),
              bucket.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }) else { return nil }
        return (bucket, prefix)
    }

    /// Where an attempt's file is: the object store keeps every attempt apart; the data folder keeps
    /// only the accepted one (`SegmentStaging.acceptedFolder`).
    func attemptKey(videoID: String, ref: AttemptRef, file: String) -> String {
        acceptedInStaging ? "\(stagingPrefix)\(videoID)/\(ref.taskID)/accepted/\(file)"
            : "\(stagingPrefix)\(videoID)/\(ref.taskID)/a\(ref.attempt)/\(file)"
    }

    func attemptsPrefix(_ videoID: String) -> String { "\(stagingPrefix)\(videoID)/" }

    func videoPrefix(_ videoID: String) -> String { "\(prefix)\(videoID)/" }

    func outputKey(videoID: String, path: String) -> String { videoPrefix(videoID) + path }

    /// Where a viewer fetches `path` of a video: under the CDN when there is one.
    func publicURL(videoID: String, path: String) -> String? {
        publicBaseURL.map { $0.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/\(videoID)/\(path)" }
    }

    /// Cache-Control for what the farm publishes: segments never change once
    /// written; a growing playlist changes with every accepted task; a finished
    /// one may still be replaced by a re-render after erasure, so it is kept briefly.
    enum Caching {
        static let immutable = "public, max-age=31536000, immutable"
        static let growing = "public, max-age=2"
        static let finished = "public, max-age=60"
    }
}

/// Bytes of media that passed through the coordinator in object-store mode:
/// zero for what agents placed themselves.
struct ObjectTraffic: Sendable {
    /// Segments the coordinator had to download, move on the timeline and upload again.
    var replacedBytes = 0
    /// Files agents could not upload and sent over ZeroMQ, which the coordinator uploaded.
    var relayedBytes = 0
    /// The top rung read back to write `video.mp4` (parts no agent built).
    var mp4Bytes = 0
    /// Parts of `video.mp4` the coordinator built although agents could have (counted into the metrics).
    var mp4PartsBuiltHere = 0
    /// Segment bytes agents uploaded themselves.
    var agentBytes = 0
}
