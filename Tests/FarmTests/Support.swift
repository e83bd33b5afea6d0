import Foundation

/// Runs a command and returns its standard output; throws on a non-zero exit.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes concurrently so neither can fill and stall the child.
    nonisolated(unsafe) var errData = Data()
    let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !reader.isFinished { usleep(1_000) }
    let result = (String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    guard process.terminationStatus == 0 else {
        throw CommandFailed(command: ([executable] + arguments).joined(separator: " "), status: process.terminationStatus,
                            stderr: result.1)
    }
    return result
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
