import FarmModel
import Foundation

/// What the model is told: the system prompt (the farm's rules and the installed Manim's names), the first
/// request, and each repair request with the error its last script met.
enum GenerationPrompts {
    static let sectionOrder = ["scenes", "mobjects", "animations", "functions", "constants", "other classes"]

    static func system(api: ManimAPI) -> String {
        var text = """
            You write Manim Community scripts for ManimFarm, a render farm. The farm renders with Manim Community \
            \(api.version) exactly: use only the names listed below, with the parameters shown; names from other \
            versions or from manimgl (3b1b's Manim) do not exist here.

            The farm's rules:
            - Answer with exactly one fenced code block (```python … ```) holding the whole script, and nothing else.
            - The script starts with `from manim import *`. Other imports: only `math`, `random` and `numpy as np`.
            - Each part of the video is a named class deriving from `Scene` (or `MovingCameraScene`, `ThreeDScene`, …) \
            with a `construct(self)` method. The video shows the scenes in the order the file defines them: write \
            them in playback order, with names that say what each shows (IntroduceTheTheorem, not Scene1).
            - The video's length is the sum of every animation's `run_time` (1 s by default) and every \
            `self.wait(...)` (1 s by default): make it close to the length asked for.
            - Scripts run in a sandbox without network or files: no `open`, no `ImageMobject` or `SVGMobject` of a \
            file, no `os`, `sys`, `subprocess`, `socket` or downloads, no `add_sound`. Draw everything with Manim's \
            own mobjects.
            - LaTeX is installed: `MathTex` and `Tex` work; keep their TeX valid (escape backslashes in raw strings).
            - Keep it deterministic and quick to plan: no infinite loops, no sleeping, no reading input.

            The public names of Manim Community \(api.version):
            """
        for section in sectionOrder + api.sections.keys.sorted().filter({ !sectionOrder.contains($0) }) {
            guard let names = api.sections[section], !names.isEmpty else { continue }
            text += "\n\n\(section.prefix(1).uppercased() + section.dropFirst()):\n" + names.joined(separator: "\n")
        }
        return text
    }

    /// The first request: the person's prompt, the style and the length.
    static func first(_ request: GenerationRequest) -> String {
        var text = "Write a Manim script for this video:\n\n\(request.prompt)\n"
        if let style = request.style, !style.isEmpty { text += "\nStyle: \(style)\n" }
        let seconds = Int((request.targetSeconds ?? GenerationRequest.defaultTargetSeconds).rounded())
        text += "\nThe video should run about \(seconds) seconds in all."
        return text
    }

    /// A repair request: what went wrong with the last script, for the model to fix.
    static func repair(stage: String, error: String) -> String {
        """
        The farm could not use that script. It failed at \(stage):

        \(error)

        Fix the cause and answer with the whole corrected script, in one fenced Python code block.
        """
    }

    /// The script in a model's answer: the first fenced block (```python or ```), else the whole answer if it
    /// reads like a script; `nil` when there is none.
    static func script(in answer: String) -> String? {
        let lines = answer.components(separatedBy: "\n")
        if let open = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("```") }) {
            let rest = lines[(open + 1)...]
            let close = rest.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("```") } ?? lines.endIndex
            let code = lines[(open + 1)..<close].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            return code.isEmpty ? nil : code + "\n"
        }
        let trimmed = answer.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.contains("import") && trimmed.contains("class ") ? trimmed + "\n" : nil
    }

    /// Why a planned length is too far from the one asked for; `nil` when it is close enough (within a factor of 2).
    static func lengthProblem(planned: Double, target: Double) -> String? {
        guard planned < target / 2 || planned > target * 2 else { return nil }
        return String(format: "the video runs %.1f s as written, and should run about %.0f s (between %.0f and %.0f s): "
                      + "change run_time and self.wait(...) durations, or add or remove animations", planned, target, target / 2, target * 2)
    }
}
