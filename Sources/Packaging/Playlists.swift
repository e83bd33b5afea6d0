import Foundation

/// One media segment as listed in a media playlist.
public struct PlaylistSegment: Equatable, Sendable {
    public var uri: String
    public var seconds: Double
    public var bytes: Int

    public init(uri: String, seconds: Double, bytes: Int) {
        self.uri = uri
        self.seconds = seconds
        self.bytes = bytes
    }
}

/// Writes HLS playlists (RFC 8216, fMP4 segments, VOD).
public enum Playlists {
    /// A VOD media playlist with one init segment.
    public static func media(initURI: String, segments: [PlaylistSegment]) -> String {
        // Every EXTINF, rounded to the nearest integer, must not exceed the target duration.
        let target = segments.map { Int($0.seconds.rounded()) }.max() ?? 1
        var lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            "#EXT-X-TARGETDURATION:\(max(target, 1))",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            "#EXT-X-MAP:URI=\"\(initURI)\"",
        ]
        for segment in segments {
            lines.append(String(format: "#EXTINF:%.6f,", segment.seconds))
            lines.append(segment.uri)
        }
        lines.append("#EXT-X-ENDLIST")
        return lines.joined(separator: "\n") + "\n"
    }

    /// One variant of a master playlist.
    public struct Variant: Equatable, Sendable {
        public var uri: String
        public var bandwidth: Bandwidth
        public var codecs: String
        public var width: Int
        public var height: Int
        public var frameRate: Double

        public init(uri: String, bandwidth: Bandwidth, codecs: String, width: Int, height: Int, frameRate: Double) {
            self.uri = uri
            self.bandwidth = bandwidth
            self.codecs = codecs
            self.width = width
            self.height = height
            self.frameRate = frameRate
        }
    }

    /// The master playlist listing every variant.
    public static func master(variants: [Variant]) -> String {
        var lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
        for variant in variants {
            let attributes = [
                "BANDWIDTH=\(variant.bandwidth.peak)",
                "AVERAGE-BANDWIDTH=\(variant.bandwidth.average)",
                "CODECS=\"\(variant.codecs)\"",
                "RESOLUTION=\(variant.width)x\(variant.height)",
                String(format: "FRAME-RATE=%.3f", variant.frameRate),
            ]
            lines.append("#EXT-X-STREAM-INF:" + attributes.joined(separator: ","))
            lines.append(variant.uri)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
