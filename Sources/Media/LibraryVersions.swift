import CFFmpeg

/// The libav this process encodes with, as part of an agent's render environment:
/// another libavcodec (or libx264 behind it) may write other bytes for the same frames.
public enum LibraryVersions {
    public static var encoder: String {
        let version = avcodec_version()
        return "libavcodec \(version >> 16).\((version >> 8) & 0xFF).\(version & 0xFF) "
    }
}
