import Foundation

/// What a store says about one object.
public struct ObjectInfo: Sendable, Equatable {
    public var size: Int
    /// Without quotes. The hex MD5 of the body for single-part uploads to S3, unless SSE-KMS encrypts it.
    public var etag: String
    /// True when `etag` is the body's MD5.
    public var etagIsMD5: Bool

    public init(size: Int, etag: String, etagIsMD5: Bool) {
        self.size = size
        self.etag = etag
        self.etagIsMD5 = etagIsMD5
    }
}

/// Where published videos are written: an S3-compatible object store
/// (`S3Client`) or the coordinator's data folder (`LocalFolderStore`). Keys are
/// `/`-separated paths; an object appears whole or not at all.
public protocol ObjectStore: Sendable {
    /// Uploads in parts are cut at this size (every part but the last is at least this large).
    var partSize: Int { get }
    func put(_ data: Data, key: String, contentType: String, cacheControl: String?) async throws
    func get(_ key: String) async throws -> Data
    /// `nil` when there is no such object.
    func head(_ key: String) async throws -> ObjectInfo?
    /// A copy made by the store itself: no byte passes through the caller.
    func copy(from source: String, to key: String, contentType: String, cacheControl: String?) async throws
    func list(prefix: String) async throws -> [(key: String, size: Int)]
    /// Deletes every object under `prefix`; returns how many.
    @discardableResult func deletePrefix(_ prefix: String) async throws -> Int
    /// An object written in parts appears at `key` only once completed.
    func createMultipartUpload(key: String, contentType: String, cacheControl: String?) async throws -> String
    /// Part `number` from 1; returns its tag for `completeMultipartUpload`.
    func uploadPart(_ part: Data, key: String, uploadID: String, number: Int) async throws -> String
    func completeMultipartUpload(key: String, uploadID: String, etags: [String]) async throws
    /// Best effort.
    func abortMultipartUpload(key: String, uploadID: String) async
}
