import FarmProtocol
import Foundation

/// A file a script reads (an image, an SVG, a sound, data), submitted with it and
/// placed beside it, at the same relative path, in every render's folder.
public struct SubmittedAsset: Codable, Sendable, Equatable {
    /// The path the script opens, relative to the script: `logo.png`, `sounds/click.wav`.
    public var name: String
    /// The bytes (base64 in JSON).
    public var data: Data

    public init(name: String, data: Data) {
        self.name = name
        self.data = data
    }
}

/// A submitted asset as a video keeps it: its bytes are in the store (`staging/<video>/assets/<name>`).
public struct AssetRef: Codable, Sendable, Equatable {
    public var name: String
    public var size: Int
    /// Lower-case hex SHA-256 of the bytes: what every agent checks, and part of the cache keys.
    public var sha256: String

    public init(name: String, size: Int, sha256: String) {
        self.name = name
        self.size = size
        self.sha256 = sha256
    }
}

extension VideoRecord {
    /// `source` (a scene's fingerprint or the script) with the video's assets: what its renders and plan
    /// depend on besides settings, so a changed image or sound is never taken from a cache. The LaTeX its planning
    /// pass compiled (`GeneratedFile.texFolder`, where submissions may not put files) is left out: the script decides
    /// it, and a render that compiles its own draws the same frames.
    public func withAssets(_ source: String) -> String {
        let assets = (options.assets ?? []).filter { !$0.name.hasPrefix(GeneratedFile.texFolder) }
        guard !assets.isEmpty else { return source }
        return source + "\n# assets: " + assets.map { "\($0.name)=\($0.sha256)" }.sorted().joined(separator: ",")
    }
}
