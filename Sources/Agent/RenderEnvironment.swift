import Crypto
import Foundation
import Media

/// What decides how this agent renders, beyond the farm's own code: the
/// installed Manim and every package it imports (the transitive closure of
/// its requirements, name and version), manim-voiceover's closure and the
/// speech engine (narration's timing depends on them), the Python that runs
/// them, and the libav that encodes. Two agents installed from the same lock file
/// (`python/requirements.lock`) share a fingerprint; an agent whose Pillow
/// was upgraded behind the lock's back does not, so the coordinator neither
/// mixes its frames into another environment's video nor takes its renders
/// from the other's cache.
struct RenderEnvironment: Sendable, Equatable {
    var manimVersion: String
    /// 16 hex digits of the SHA-256 of `packages`, the Python version and the libav version.
    var fingerprint: String?
    /// `name==version` of Manim's and manim-voiceover's closures, sorted.
    var packages: [String]

    /// Manim's and manim-voiceover's requirements, followed through installed distributions (extras not asked
    /// for are skipped), and the speech engine's version.
    static let probe = """
        import importlib.metadata as m, json, os, platform, re, subprocess
        seen, todo = {}, ["manim", "manim-voiceover", "pyttsx3"]
        while todo:
            name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
            if name in seen:
                continue
            try:
                dist = m.distribution(name)
            except m.PackageNotFoundError:
                continue
            seen[name] = dist.version
            for requirement in dist.requires or []:
                if "extra ==" in requirement:
                    continue
                todo.append(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))
        try:
            speech = subprocess.run([os.environ.get("FARM_SPEECH_ENGINE", "espeak-ng"), "--version"], capture_output=True,
                                    timeout=10).stdout.decode(errors="replace").strip()[:200]
        except (OSError, subprocess.SubprocessError):
            speech = "none"
        print(json.dumps({"manim": m.version("manim"), "python": platform.python_implementation() + " " + platform.python_version(),
                          "packages": sorted(f"{n}=={v}" for n, v in seen.items()), "speech": speech}))
        """

    /// Asks `python` (on a thread of the agent's own: the pipe and the wait block).
    static func detect(python: String) async -> RenderEnvironment {
        struct Probe: Decodable {
            var manim: String
            var python: String
            var packages: [String]
            var speech: String?
        }
        let output: Data? = await withCheckedContinuation { continuation in
            Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = [python, "-c", probe]
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = FileHandle.nullDevice
                guard (try? process.run()) != nil else { return continuation.resume(returning: nil) }
                let output = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: process.terminationStatus == 0 ? output : nil)
            }.start()
        }
        guard let output, let probe = try? JSONDecoder().decode(Probe.self, from: output), !probe.manim.isEmpty else {
            return RenderEnvironment(manimVersion: "unavailable", fingerprint: nil, packages: [])
        }
        let material = (probe.packages + [probe.python, LibraryVersions.encoder, probe.speech ?? ""]).joined(separator: "\n")
        let digest = SHA256.hash(data: Data(material.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return RenderEnvironment(manimVersion: String(probe.manim.prefix(64)), fingerprint: digest, packages: probe.packages)
    }

    /// What plans report and cache keys hold (`AgentRecord.renderIdentity` on the coordinator's side).
    var identity: String {
        fingerprint.map { "\(manimVersion) env:\($0)" } ?? manimVersion
    }
}
