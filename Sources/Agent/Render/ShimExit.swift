/// The exit statuses `farm_shim.py` uses to say how a Manim run ended, so the
/// agent classifies a failure from a typed outcome instead of the log's text.
/// Keep in step with the constants at the top of `Shim/farm_shim.py`.
enum ShimExit: Int32 {
    /// The task could not be confined (sandbox, control groups): the agent's fault.
    case confinementFailed = 71
    /// The script raised an exception; the log's last line names it.
    case scriptRaised = 72
    /// The script raised MemoryError under the task's memory limit.
    case outOfMemory = 73
    /// A tool the scene runs (LaTeX, dvisvgm) is not installed here.
    case toolMissing = 74
}
