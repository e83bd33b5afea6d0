/// Bit rates a master playlist declares, measured from written segments.
public struct Bandwidth: Equatable, Sendable {
    /// Peak bit rate (RFC 8216 §4.3.4.2): the highest rate over any run of
    /// consecutive segments lasting 0.5 to 1.5 target durations.
    public var peak: Int
    /// Total bits over total duration.
    public var average: Int

    /// Measures segments given as (bytes, seconds), in playback order.
    public init(segments: [(bytes: Int, seconds: Double)], targetDuration: Double) {
        let totalBytes = segments.reduce(0) { $0 + $1.bytes }
        let totalSeconds = segments.reduce(0) { $0 + $1.seconds }
        average = totalSeconds > 0 ? Int((Double(totalBytes * 8) / totalSeconds).rounded(.up)) : 0
        var peak = 0.0
        for start in segments.indices {
            var bytes = 0
            var seconds = 0.0
            for segment in segments[start...] {
                bytes += segment.bytes
                seconds += segment.seconds
                if seconds > 1.5 * targetDuration { break }
                if seconds >= 0.5 * targetDuration { peak = max(peak, Double(bytes * 8) / seconds) }
            }
        }
        // A video shorter than half a target duration has no qualifying run.
        self.peak = max(Int(peak.rounded(.up)), average)
    }
}
