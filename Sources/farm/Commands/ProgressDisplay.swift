import FarmModel
import Foundation

/// Shows a video's progress: on a terminal, a bar with frames done of expected and the time
/// left, and each task's frames, redrawn in place; elsewhere (logs, CI) one line per state
/// change, never one per progress tick.
final class ProgressDisplay {
    private let enabled: Bool
    private let interactive: Bool
    private var drawnLines = 0
    private var lastLines: [String] = []

    init(enabled: Bool, interactive: Bool = isatty(STDERR_FILENO) == 1) {
        self.enabled = enabled
        self.interactive = interactive
    }

    func show(_ status: VideoStatus) {
        guard enabled else { return }
        let lines = Self.lines(status, detailed: interactive)
        if interactive {
            var output = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
            for line in lines { output += "\u{1B}[2K" + line + "\n" }
            FileHandle.standardError.write(Data(output.utf8))
            drawnLines = lines.count
        } else {
            for line in lines where !lastLines.contains(line) {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        lastLines = lines
    }

    /// What is shown for `status`; `detailed` adds what changes with every frame (counts, bar, time left).
    static func lines(_ status: VideoStatus, detailed: Bool) -> [String] {
        var header = "\(status.id): \(status.state.rawValue)"
        if detailed { header += "  " + summary(status.progress ?? VideoProgress(status)) }
        let plan = status.plan.map { [line($0, label: "(plan)", detailed: detailed)] } ?? []
        return [header] + plan + status.scenes.map { line($0, detailed: detailed) }
    }

    /// `[########----------------] 120/300 frames, about 40 s left`
    static func summary(_ progress: VideoProgress) -> String {
        var text = ""
        if let fraction = progress.fraction, let expected = progress.framesExpected {
            let filled = Int((fraction * 24).rounded(.down))
            text = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: 24 - filled) + "] \(progress.framesDone)/\(expected) frames"
        } else {
            text = "\(progress.framesDone) frames"
        }
        text += ", \(progress.tasksDone)/\(progress.tasks) tasks"
        if let eta = progress.etaSeconds { text += ", about \(duration(eta)) left" }
        return text
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(max(0, min(seconds, 359_999)).rounded())
        return whole < 60 ? "\(whole) s" : whole < 3_600 ? "\(whole / 60) min \(whole % 60) s" : "\(whole / 3_600) h \(whole % 3_600 / 60) min"
    }

    static func line(_ scene: SceneStatus, label: String? = nil, detailed: Bool = true) -> String {
        let name = label ?? scene.name + (scene.animations.map { " [\($0)]" } ?? "")
        var text = "  \(name.padding(toLength: max(name.count, 22), withPad: " ", startingAt: 0)) \(scene.state.rawValue)"
        switch scene.state {
        case .running where label != nil: text += " (on \(scene.agent ?? "?"))"
        case .running:
            let frames = detailed ? "frame \(scene.framesDone)\(scene.expectedFrames.map { " of \($0)" } ?? ""), " : ""
            text += " (\(frames)attempt \(scene.attempt) on \(scene.agent ?? "?"))"
        case .done: if label == nil { text += " (\(scene.frames ?? scene.framesDone) frames)" }
        case .pending: if let waiting = scene.waitingFor { text += " (waiting for \(waiting))" }
        case .failed: text += ": \(scene.error?.message ?? "")"
        case .cancelled: break
        }
        if let note = scene.note, label == nil { text += " — \(note)" }
        return text
    }
}
