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
    /// The playlist's `EXT-X-TARGETDURATION`: every EXTINF, rounded to the
    /// nearest integer, must not exceed it (RFC 8216 §4.3.3.1). BANDWIDTH is
    /// measured against this same number, so both come from here.
    public static func targetDuration(of segments: [PlaylistSegment]) -> Int {
        max(segments.map { Int($0.seconds.rounded()) }.max() ?? 1, 1)
    }

    /// How a media playlist is published: `VOD` once complete; `EVENT` while
    /// the video renders, growing at the end, with `ENDLIST` added when the
    /// last segment is in (the URI never changes, so a player that started
    /// early keeps following it).
    public enum Kind: Sendable, Equatable {
        case vod
        case event(ended: Bool)
    }

    /// A media playlist with one init segment. `targetDuration` must cover
    /// every segment that will ever be listed; a growing playlist passes the
    /// largest its video can produce, since the value may not change.
    public static func media(initURI: String, segments: [PlaylistSegment], kind: Kind = .vod,
                             targetDuration: Int? = nil) -> String {
        let target = max(targetDuration ?? Self.targetDuration(of: segments), Self.targetDuration(of: segments))
        var lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            "#EXT-X-TARGETDURATION:\(target)",
            "#EXT-X-MEDIA-SEQUENCE:0",
            kind == .vod ? "#EXT-X-PLAYLIST-TYPE:VOD" : "#EXT-X-PLAYLIST-TYPE:EVENT",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            "#EXT-X-MAP:URI=\"\(initURI)\"",
        ]
        for segment in segments {
            lines.append(String(format: "#EXTINF:%.6f,", segment.seconds))
            lines.append(segment.uri)
        }
        if kind != .event(ended: false) { lines.append("#EXT-X-ENDLIST") }
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

    /// A sound track every variant plays with (RFC 8216 §4.3.4.1): one rendition in one group.
    public struct AudioRendition: Equatable, Sendable {
        public var uri: String
        public var bandwidth: Bandwidth
        public var codecs: String
        public var channels: Int
        public var name: String
        /// BCP 47 (`und` when the farm cannot know it).
        public var language: String
        public static let groupID = "audio"

        public init(uri: String, bandwidth: Bandwidth, codecs: String, channels: Int, name: String = "Sound", language: String = "und") {
            self.uri = uri
            self.bandwidth = bandwidth
            self.codecs = codecs
            self.channels = channels
            self.name = name
            self.language = language
        }
    }

    /// The master playlist listing every variant, each with `audio` when the video has sound: its
    /// group is referenced, its codec is in CODECS and its bit rate is in BANDWIDTH, as §4.3.4.2 asks.
    public static func master(variants: [Variant], audio: AudioRendition? = nil) -> String {
        var lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
        if let audio {
            lines.append("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"\(AudioRendition.groupID)\",NAME=\"\(audio.name)\","
                + "LANGUAGE=\"\(audio.language)\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"\(audio.channels)\",URI=\"\(audio.uri)\"")
        }
        for variant in variants {
            var attributes = [
                "BANDWIDTH=\(variant.bandwidth.peak + (audio?.bandwidth.peak ?? 0))",
                "AVERAGE-BANDWIDTH=\(variant.bandwidth.average + (audio?.bandwidth.average ?? 0))",
                "CODECS=\"\(variant.codecs)\(audio.map { "," + $0.codecs } ?? "")\"",
                "RESOLUTION=\(variant.width)x\(variant.height)",
                String(format: "FRAME-RATE=%.3f", variant.frameRate),
            ]
            if audio != nil { attributes.append("AUDIO=\"\(AudioRendition.groupID)\"") }
            lines.append("#EXT-X-STREAM-INF:" + attributes.joined(separator: ","))
            lines.append(variant.uri)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
