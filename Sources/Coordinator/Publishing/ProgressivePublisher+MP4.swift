import Foundation
import ObjectStorage

/// One object of the store that `video.mp4` holds, in order: the top rung's init segment, then its segments.
public struct MP4Piece: Sendable, Equatable {
    public var key: String
    public var size: Int

    public init(key: String, size: Int) {
        self.key = key
        self.size = size
    }
}

/// Builds part `number` of the upload `uploadID` to `key` from `pieces` without the
/// coordinator's bytes (an agent fetches and puts them). Returns the part's ETag once
/// the store holds it as asked, or `nil`, and the publisher builds it itself.
public typealias PartJoiner = @Sendable (_ videoID: String, _ pieces: [MP4Piece], _ key: String, _ uploadID: String,
                                         _ number: Int) async -> String?

/// `video.mp4` as an upload in parts: cutting the top rung's objects into parts, and completing it.
extension ProgressivePublisher {
    /// Sends every whole part the pending pieces make (whole pieces, at least the store's
    /// part size each, as S3 wants all parts but the last to be 5 MiB or more); `final` sends
    /// the rest as the last part. Progress is saved after each part.
    func sendParts(_ videoID: String, final: Bool) async throws {
        let store = objects.store, key = objects.outputKey(videoID: videoID, path: "video.mp4")
        while let upload = progress[videoID]?.mp4,
              upload.pendingBytes >= store.partSize || (final && !upload.pending.isEmpty) {
            var count = 0, bytes = 0
            while count < upload.pending.count, bytes < store.partSize {
                bytes += upload.pending[count].size
                count += 1
            }
            let pieces = Array(upload.pending.prefix(count))
            if final, upload.uploadID == nil, count == upload.pending.count, joiner == nil {
                // Smaller than one part and nobody else to build it: one PUT.
                try await store.put(try await read(pieces), key: key, contentType: "video/mp4",
                                    cacheControl: ObjectOutputConfiguration.Caching.finished)
                progress[videoID]?.mp4.pending = []
                progress[videoID]?.mp4.pendingBytes = 0
                progress[videoID]?.mp4.uploadID = Self.singlePut
                return
            }
            var uploadID = upload.uploadID
            if uploadID == nil {
                let created = try await store.createMultipartUpload(
                    key: key, contentType: "video/mp4", cacheControl: ObjectOutputConfiguration.Caching.finished)
                progress[videoID]?.mp4.uploadID = created
                uploadID = created
            }
            let number = upload.parts.count + 1
            let etag: String
            if let joiner, let joined = await joiner(videoID, pieces, key, uploadID!, number) {
                etag = joined
                joinedParts += 1
            } else {
                etag = try await store.uploadPart(try await read(pieces), key: key, uploadID: uploadID!, number: number)
                if joiner != nil { partsBuiltHere += 1 }
            }
            progress[videoID]?.mp4.parts.append((pieces, etag))
            progress[videoID]?.mp4.pending.removeFirst(count)
            progress[videoID]?.mp4.pendingBytes -= bytes
        }
    }

    /// Marks an MP4 written with one PUT.
    static var singlePut: String { "(single put)" }

    /// Completes `video.mp4` and checks its size. A store that refuses the parts (an
    /// agent's part was overwritten after it was checked) or a size that is not the sum of
    /// the pieces gets the MP4 built again, here, as a new upload.
    func completeMP4(_ videoID: String, _ upload: MP4Upload) async throws {
        guard let uploadID = upload.uploadID, uploadID != Self.singlePut else { return }
        let store = objects.store, key = objects.outputKey(videoID: videoID, path: "video.mp4")
        let expected = upload.bytes
        do {
            try await store.completeMultipartUpload(key: key, uploadID: uploadID, etags: upload.parts.map(\.etag))
            let size = try await store.head(key)?.size
            guard size == expected else { throw PublishingError("video.mp4 is \(size ?? 0) bytes in the store, not \(expected)") }
            return
        } catch {
            guard joiner != nil else { throw error }
            await store.abortMultipartUpload(key: key, uploadID: uploadID)
            logger.warning("video.mp4 built by agents did not complete; building it again here",
                           metadata: ["video": "\(videoID)", "error": "\(error)"])
        }
        let again = try await store.createMultipartUpload(key: key, contentType: "video/mp4",
                                                           cacheControl: ObjectOutputConfiguration.Caching.finished)
        do {
            var etags: [String] = []
            for (index, part) in upload.parts.enumerated() {
                etags.append(try await store.uploadPart(try await read(part.pieces), key: key, uploadID: again, number: index + 1))
                partsBuiltHere += 1
            }
            try await store.completeMultipartUpload(key: key, uploadID: again, etags: etags)
        } catch {
            await store.abortMultipartUpload(key: key, uploadID: again)
            throw error
        }
    }

    /// The pieces' bytes, read back through the coordinator.
    private func read(_ pieces: [MP4Piece]) async throws -> Data {
        var data = Data(capacity: pieces.reduce(0) { $0 + $1.size })
        for piece in pieces {
            let bytes = try await objects.store.get(piece.key)
            guard bytes.count == piece.size else {
                throw PublishingError("\(piece.key) is \(bytes.count) bytes in the store, not \(piece.size)")
            }
            data.append(bytes)
        }
        if objects.s3 != nil { mp4Bytes += data.count }
        return data
    }
}

struct PublishingError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
