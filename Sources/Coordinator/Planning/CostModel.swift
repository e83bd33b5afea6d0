import FarmProtocol

/// Estimates how long a render takes on one agent slot, learning from results.
///
/// A render costs a fixed start (fork, `construct()`, replaying skipped
/// animations) plus a cost per frame that grows with the pixels drawn and
/// encoded. The per-frame cost starts from figures measured on a 2-core
/// machine (about 50 ms per 1080p frame for drawing plus a three-rung ladder)
/// and follows the fleet's observed renders as a moving average.
struct CostModel: Sendable {
    /// Seconds per megapixel of rendered frame, drawing and encoding every rung.
    private(set) var secondsPerMegapixelFrame: Double = 0.024
    /// Seconds every task pays before its first frame.
    var fixedSeconds: Double = 0.5
    /// Renders observed so far; the first replaces the built-in guess outright.
    private(set) var observations = 0

    /// Estimated seconds to render `frames` frames at `quality`.
    func estimate(frames: Int, quality: Quality) -> Double {
        fixedSeconds + Double(frames) * secondsPerMegapixelFrame * Self.megapixels(quality)
    }

    /// Folds in an observed render.
    mutating func observe(frames: Int, quality: Quality, seconds: Double) {
        guard frames >= 30, seconds > fixedSeconds else { return }
        let sample = (seconds - fixedSeconds) / (Double(frames) * Self.megapixels(quality))
        secondsPerMegapixelFrame = observations == 0 ? sample : 0.8 * secondsPerMegapixelFrame + 0.2 * sample
        observations += 1
    }

    private static func megapixels(_ quality: Quality) -> Double {
        let height = Double(quality.height)
        return height * height * 16 / 9 / 1_000_000
    }
}
