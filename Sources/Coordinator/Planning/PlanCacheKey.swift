import Crypto
import FarmProtocol
import Foundation

/// The content hash that names a video's plan: the script, the scenes chosen,
/// the settings (the frame rate decides frame counts, the seed random
/// durations) and the Manim version. An unchanged resubmission finds its plan
/// under it and needs no planning pass.
enum PlanCacheKey {
    private struct Material: Encodable {
        var version: Int
        var script: String
        var scenes: [String]
        var settings: RenderSettings
        var manimVersion: String
    }

    static func make(script: String, scenes: [String], settings: RenderSettings, manimVersion: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let material = Material(version: RenderCacheKey.farmOutputVersion, script: script, scenes: scenes,
                                settings: settings, manimVersion: manimVersion)
        let bytes = (try? encoder.encode(material)) ?? Data()
        return "plan-" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
