import FarmModel
import Foundation
import Testing

/// Parses and checks HLS playlists written by the farm against RFC 8216 and
/// Apple's authoring rules.
struct PlaylistCheck {
    struct Variant {
        var uri: String
        var bandwidth: Int
        var averageBandwidth: Int
        var codecs: String
        var resolution: String
        var frameRate: String
    }

    struct Media {
        var extinfs: [Double]
        var segments: [String]
    }

    let variants: [Variant]
    let folder: URL

    init(master: String, folder: URL) throws {
        self.folder = folder
        let lines = master.split(separator: "\n").map(String.init)
        #expect(lines.first == "#EXTM3U")
        #expect(lines.contains("#EXT-X-INDEPENDENT-SEGMENTS"))
        var variants: [Variant] = []
        for (index, line) in lines.enumerated() where line.hasPrefix("#EXT-X-STREAM-INF:") {
            let attributes = Self.attributes(String(line.dropFirst("#EXT-X-STREAM-INF:".count)))
            variants.append(Variant(
                uri: lines[index + 1], bandwidth: Int(attributes["BANDWIDTH"] ?? "") ?? 0,
                averageBandwidth: Int(attributes["AVERAGE-BANDWIDTH"] ?? "") ?? 0,
                codecs: attributes["CODECS"] ?? "", resolution: attributes["RESOLUTION"] ?? "",
                frameRate: attributes["FRAME-RATE"] ?? ""))
        }
        self.variants = variants
    }

    func media(_ variant: Variant) throws -> Media {
        let text = try String(contentsOf: folder.appendingPathComponent(variant.uri), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        // Complete: VOD, or a progressive EVENT playlist that has ended (RFC 8216 §6.2.1 lets it only grow and end).
        #expect(lines.contains("#EXT-X-PLAYLIST-TYPE:VOD") || lines.contains("#EXT-X-PLAYLIST-TYPE:EVENT"))
        #expect(lines.contains("#EXT-X-ENDLIST"))
        #expect(lines.contains { $0.hasPrefix("#EXT-X-MAP:URI=") })
        #expect(!text.contains("DISCONTINUITY"))
        let target = Int(lines.first { $0.hasPrefix("#EXT-X-TARGETDURATION:") }?.split(separator: ":")[1] ?? "") ?? 0
        var extinfs: [Double] = []
        var segments: [String] = []
        for (index, line) in lines.enumerated() where line.hasPrefix("#EXTINF:") {
            extinfs.append(Double(line.dropFirst(8).split(separator: ",")[0]) ?? -1)
            segments.append(lines[index + 1])
        }
        #expect(!extinfs.isEmpty)
        #expect(extinfs.allSatisfy { Int($0.rounded()) <= target && $0 <= 6.0001 }, "TARGETDURATION \(target) covers \(extinfs)")
        return Media(extinfs: extinfs, segments: segments)
    }

    /// Bits per second over the segment files on disk.
    func measuredAverageBandwidth(_ variant: Variant) throws -> Double {
        let media = try media(variant)
        let base = folder.appendingPathComponent(variant.uri).deletingLastPathComponent()
        let bytes = try media.segments.reduce(0) { total, name in
            total + (try FileManager.default.attributesOfItem(atPath: base.appendingPathComponent(name).path)[.size] as? Int ?? 0)
        }
        return Double(bytes * 8) / media.extinfs.reduce(0, +)
    }

    /// The RFC 8216 §4.3.4.2 peak segment bit rate, computed here from the
    /// written files alone: the media playlist's own TARGETDURATION, its EXTINFs
    /// and the sizes of the segment files, over every run of consecutive
    /// segments lasting 0.5 to 1.5 target durations (or the whole playlist when
    /// it is shorter than half of one).
    func rfcPeakBandwidth(_ variant: Variant) throws -> Double {
        let text = try String(contentsOf: folder.appendingPathComponent(variant.uri), encoding: .utf8)
        let target = Double(text.split(separator: "\n").first { $0.hasPrefix("#EXT-X-TARGETDURATION:") }?
            .split(separator: ":")[1] ?? "") ?? 0
        let media = try media(variant)
        let base = folder.appendingPathComponent(variant.uri).deletingLastPathComponent()
        let sizes = try media.segments.map {
            try FileManager.default.attributesOfItem(atPath: base.appendingPathComponent($0).path)[.size] as? Int ?? 0
        }
        var peak = 0.0
        for start in sizes.indices {
            for end in start..<sizes.count {
                let seconds = media.extinfs[start...end].reduce(0, +)
                guard seconds >= 0.5 * target, seconds <= 1.5 * target else { continue }
                peak = max(peak, Double(sizes[start...end].reduce(0, +) * 8) / seconds)
            }
        }
        let total = media.extinfs.reduce(0, +)
        return max(peak, Double(sizes.reduce(0, +) * 8) / total)
    }

    static func attributes(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var key = "", value = "", inKey = true, quoted = false
        for character in text + "," {
            if inKey {
                if character == "=" { inKey = false } else { key.append(character) }
            } else if character == "\"" {
                quoted.toggle()
            } else if character == "," && !quoted {
                result[key] = value
                key = ""; value = ""; inKey = true
            } else {
                value.append(character)
            }
        }
        return result
    }
}
