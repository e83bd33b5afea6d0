import Crypto
import FarmProtocol
import Foundation

/// Writes a task's assets beside its script (the render's working folder), each
/// checked against its size and SHA-256 first: from the assignment itself, or
/// fetched with its presigned URL (on the render's own thread, which this blocks).
enum TaskAssets {
    static func place(_ assets: [AssetFile], in directory: URL) throws {
        for asset in assets {
            // Validated on decoding; checked again here because a path is about to be written.
            guard AssetFile.isSafeName(asset.name) else { throw ObjectUpload.Failure(description: "unsafe asset name \(asset.name)") }
            let bytes = try fetch(asset)
            let file = directory.appendingPathComponent(asset.name)
            guard !FileManager.default.fileExists(atPath: file.path) else {
                throw ObjectUpload.Failure(description: "asset \(asset.name) would overwrite the script or another asset")
            }
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try bytes.write(to: file, options: .withoutOverwriting)
        }
    }

    /// An asset's bytes, inline or fetched, once they are the submitted file's (size and SHA-256).
    static func fetch(_ asset: AssetFile) throws -> Data {
        let bytes: Data
        if let data = asset.data {
            bytes = data
        } else if let url = asset.url.flatMap(URL.init(string:)) {
            bytes = try ObjectUpload.get(url, size: asset.size)
        } else {
            throw ObjectUpload.Failure(description: "asset \(asset.name) has neither bytes nor a URL")
        }
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        guard bytes.count == asset.size, digest == asset.sha256 else {
            throw ObjectUpload.Failure(description: "asset \(asset.name) is not the submitted file (size or SHA-256 differs)")
        }
        return bytes
    }
}
