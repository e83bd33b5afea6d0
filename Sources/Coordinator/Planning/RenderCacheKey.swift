import Crypto
import FarmProtocol
import Foundation

/// The content hash that names a render's output: everything that decides its
/// frames and their encoding. Two tasks with the same key produce the same
/// segments, so the second takes the first's from the render cache.
enum RenderCacheKey {
    /// Bumped whenever the agent's encoder or the shim changes what it produces.
    static let farmOutputVersion = 1

    private struct Material: Encodable {
        var version: Int
        /// The scene's source fingerprint, or the whole script when there is none.
        var source: String
        var scene: String
        var animations: AnimationRange?
        var settings: RenderSettings
        var encoding: EncodingPlan
        var manimVersion: String
    }

    static func make(source: String, scene: String, animations: AnimationRange?, settings: RenderSettings,
                     encoding: EncodingPlan, manimVersion: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let material = Material(version: farmOutputVersion, source: source, scene: scene, animations: animations,
                                settings: settings, encoding: encoding, manimVersion: manimVersion)
        let bytes = (try? encoder.encode(material)) ?? Data()
        return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
