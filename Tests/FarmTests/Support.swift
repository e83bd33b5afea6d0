import FarmModel
import Foundation

/// Runs a command and returns its output; throws on a non-zero exit.
///
/// Uses posix_spawn and waitpid with output in temporary files: Foundation's
/// `Process.waitUntilExit` was seen to hang here after a child that starts a
/// daemon (pg_ctl) had exited.
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> (stdout: String, stderr: String) {
    let (exitCode, stdout, stderr) = try runStatus(executable, arguments)
    guard exitCode == 0 else {
        throw CommandFailed(command: ([executable] + arguments).joined(separator: " "), status: exitCode, stderr: stderr)
    }
    return (stdout, stderr)
}

/// Runs a command; its exit status and output, whatever the status.
func runStatus(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let outPath = folder.appendingPathComponent("out").path, errPath = folder.appendingPathComponent("err").path
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, executable, &actions, nil, argv, environ)
    guard spawned == 0 else { throw CommandFailed(command: executable, status: -1, stderr: String(cString: strerror(spawned))) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let result = ((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "", (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    let exitCode = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return (exitCode, result.0, result.1)
}

struct CommandFailed: Error, CustomStringConvertible {
    var command: String
    var status: Int32
    var stderr: String
    var description: String { "\(command) exited \(status): \(stderr.suffix(2_000))" }
}

/// What ffprobe and ffmpeg (test tools only) say about a rendered file.
enum FFprobe {
    /// Presentation times of every decoded frame, in seconds.
    static func frameTimes(_ path: String) throws -> [Double] {
        try run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time",
                            "-of", "csv=p=0", path]).stdout
            .split(separator: "\n").compactMap { Double($0.split(separator: ",").first ?? "") }
    }

    /// Presentation times of key frames, in seconds.
    static func keyframeTimes(_ path: String) throws -> [Double] {
        try run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey",
                            "-show_entries", "frame=pts_time", "-of", "csv=p=0", path]).stdout
            .split(separator: "\n").compactMap { Double($0.split(separator: ",").first ?? "") }
    }

    /// Decoded frame count.
    static func frameCount(_ path: String) throws -> Int {
        let output = try run("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0",
                                         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path]).stdout
        return Int(output.split(separator: "\n").first?.trimmingCharacters(in: .whitespaces) ?? "") ?? -1
    }

    /// Everything ffmpeg reports while decoding the whole input; empty means a clean decode.
    static func decodeErrors(_ path: String) throws -> String {
        try run("ffmpeg", ["-v", "error", "-i", path, "-f", "null", "-"]).stderr
    }
}
