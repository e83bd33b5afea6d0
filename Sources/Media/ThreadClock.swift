#if canImport(Glibc)
import Glibc
#endif

/// Clocks for accounting where encoding time goes (`SceneEncoder.Timings`).
public enum ThreadClock {
    /// CPU seconds the calling thread has used: what one stage cost, whatever else the machine ran meanwhile.
    public static func cpuSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Wall seconds on a monotonic clock.
    public static func wallSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
