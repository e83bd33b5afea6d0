import FarmModel
import Foundation

/// Shows per-scene progress: redrawn in place on a terminal, one line per
/// change otherwise (logs, CI).
final class ProgressDisplay {
    private let enabled: Bool
    private let interactive = isatty(STDERR_FILENO) == 1
    private var drawnLines = 0
    private var lastLines: [String] = []

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func show(_ status: VideoStatus) {
        guard enabled else { return }
        let plan = status.plan.map { [Self.line($0, label: "(plan)")] } ?? []
        let lines = ["\(status.id): \(status.state.rawValue)"] + plan + status.scenes.map { Self.line($0) }
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

    static func line(_ scene: SceneStatus, label: String? = nil) -> String {
        let name = label ?? scene.name + (scene.animations.map { " [\($0)]" } ?? "")
        var text = "  \(name.padding(toLength: max(name.count, 22), withPad: " ", startingAt: 0)) \(scene.state.rawValue)"
        switch scene.state {
        case .running where label != nil: text += " (on \(scene.agent ?? "?"))"
        case .running: text += " (frame \(scene.framesDone), attempt \(scene.attempt) on \(scene.agent ?? "?"))"
        case .done: if label == nil { text += " (\(scene.frames ?? scene.framesDone) frames)" }
        case .pending: if let waiting = scene.waitingFor { text += " (waiting for \(waiting))" }
        case .failed: text += ": \(scene.error?.message ?? "")"
        case .cancelled: break
        }
        if let note = scene.note, label == nil { text += " — \(note)" }
        return text
    }
}
