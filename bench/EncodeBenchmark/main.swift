// Benchmark 3: CPU per frame of the agent's ladder encode against bare ffmpeg.
//
// Renders real frames of a Manim scene through the farm's shim (held in
// memory), then measures the CPU time of
//   1. the agent's encoder (`SceneEncoder`: RGBA -> every rung, one
//      single-threaded x264 per rung, fMP4 segments), and
//   2. `ffmpeg -c:v libx264 -threads 1` producing the same ladder from the same
//      raw frames at the same settings (veryfast, CRF 23, IDR every 2 s, no
//      B-frames), reading them from a pipe,
// and prints CPU milliseconds per frame for each and their ratio.
//
//   swift run -c release EncodeBenchmark [script.py] [Scene] [animation range a,b] [runs]
import Foundation
import Glibc
import Media

let arguments = CommandLine.arguments
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let script = arguments.count > 1 ? arguments[1] : root.appendingPathComponent("examples/explainer.py").path
let scene = arguments.count > 2 ? arguments[2] : "RiemannSums"
let range = arguments.count > 3 ? arguments[3] : "2,6"
let runs = arguments.count > 4 ? Int(arguments[4]) ?? 3 : 3
let python = ProcessInfo.processInfo.environment["FARM_PYTHON"] ?? root.appendingPathComponent(".venv/bin/python").path
let shim = root.appendingPathComponent("Sources/Agent/Shim/farm_shim.py").path
let ladder = [1080, 720, 480]
let fps = 60

struct Frames {
    var width = 0
    var height = 0
    var pixels: [Data] = []
}

/// Runs a command with stdin from `input` (if any) and stdout captured; returns stdout.
func run(_ command: [String], input: (@Sendable (Int32) -> Void)? = nil) -> Data {
    var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0]
    pipe(&inPipe); pipe(&outPipe)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_addclose(&actions, inPipe[1])
    posix_spawn_file_actions_addclose(&actions, outPipe[0])
    let argv = command.map { strdup($0) } + [nil]
    var pid: pid_t = 0
    guard posix_spawnp(&pid, command[0], &actions, nil, argv, environ) == 0 else { fatalError("cannot run \(command[0])") }
    close(inPipe[0]); close(outPipe[1])
    let inputEnd = inPipe[1]
    let writer = Thread {
        input?(inputEnd)
        close(inputEnd)
    }
    writer.start()
    var output = Data()
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = read(outPipe[0], &buffer, buffer.count)
        if n <= 0 { break }
        output.append(buffer, count: n)
    }
    close(outPipe[0])
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    guard status == 0 else { fatalError("\(command[0]) failed with status \(status)") }
    return output
}

func writeAll(_ fd: Int32, _ data: Data) {
    data.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { return }
            done += n
        }
    }
}

func cpuSeconds(_ who: __rusage_who) -> Double {
    var usage = rusage()
    getrusage(Int32(who.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func renderFrames() -> Frames {
    let media = FileManager.default.temporaryDirectory.appendingPathComponent("encode-bench-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: media) }
    let stream = run([python, shim, "render", script, scene, "-qh", "--seed", "1", "--disable_caching", "--silent",
                      "--progress_bar", "none", "--media_dir", media, "-n", range])
    var frames = Frames()
    var offset = 0
    func uint32(_ at: Int) -> Int { Int(stream[at]) | Int(stream[at + 1]) << 8 | Int(stream[at + 2]) << 16 | Int(stream[at + 3]) << 24 }
    while offset + 4 <= stream.count {
        let tag = String(decoding: stream[offset..<offset + 4], as: UTF8.self)
        if tag == "DONE" { break }
        if tag == "STAT" {  // the render's own timings, before DONE
            offset += 8 + uint32(offset + 4)
            continue
        }
        precondition(tag == "FRAM", "unexpected \(tag) in the frame stream")
        frames.width = uint32(offset + 4)
        frames.height = uint32(offset + 8)
        let repeatCount = uint32(offset + 12)
        let size = frames.width * frames.height * 4
        let pixels = stream.subdata(in: offset + 24..<offset + 24 + size)
        for _ in 0..<repeatCount { frames.pixels.append(pixels) }
        offset += 24 + size
    }
    return frames
}

func encodeWithAgent(_ frames: Frames) throws -> Double {
    let before = cpuSeconds(RUSAGE_SELF)
    var bytes = 0
    let encoder = try SceneEncoder(
        .init(sourceWidth: frames.width, sourceHeight: frames.height, frameRate: fps,
              renditions: ladder.map { ($0, 23) }, keyframeSeconds: 2, segmentSeconds: 6, preset: "veryfast"),
        output: { bytes += $0.data.count })
    for pixels in frames.pixels {
        try pixels.withUnsafeBytes { try encoder.encode(rgba: $0.baseAddress!, stride: frames.width * 4) }
    }
    _ = try encoder.finish()
    precondition(bytes > 0)
    return cpuSeconds(RUSAGE_SELF) - before
}

func encodeWithFFmpeg(_ frames: Frames) -> Double {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("encode-bench-ffmpeg-\(getpid())")
    try? FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: out) }
    var filter = "[0:v]format=yuv420p,split=\(ladder.count)" + ladder.indices.map { "[s\($0)]" }.joined() + ";"
    filter += ladder.enumerated().map { "[s\($0.offset)]scale=-2:\($0.element)[o\($0.offset)]" }.joined(separator: ";")
    var command = ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", "\(frames.width)x\(frames.height)",
                   "-r", "\(fps)", "-i", "-", "-filter_complex", filter, "-filter_complex_threads", "1", "-filter_threads", "1"]
    for index in ladder.indices {
        command += ["-map", "[o\(index)]", "-c:v:\(index)", "libx264", "-preset", "veryfast", "-crf", "23", "-threads", "1",
                    "-bf", "0", "-g", "\(2 * fps)", "-keyint_min", "\(2 * fps)", "-sc_threshold", "0", "-flags", "+cgop"]
    }
    command += ["-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
                "-var_stream_map", ladder.indices.map { "v:\($0)" }.joined(separator: " "), out.appendingPathComponent("out_%v.m3u8").path]
    let before = cpuSeconds(RUSAGE_CHILDREN)
    _ = run(command) { fd in frames.pixels.forEach { writeAll(fd, $0) } }
    return cpuSeconds(RUSAGE_CHILDREN) - before
}

let frames = renderFrames()
print("frames: \(frames.pixels.count) of \(scene) [\(range)] at \(frames.width)x\(frames.height); ladder \(ladder) @ \(fps) fps")
var agent: [Double] = [], ffmpeg: [Double] = []
for run in 1...runs {
    let a = try encodeWithAgent(frames) / Double(frames.pixels.count) * 1000
    let f = encodeWithFFmpeg(frames) / Double(frames.pixels.count) * 1000
    agent.append(a); ffmpeg.append(f)
    print(String(format: "run %d: agent %.1f ms CPU/frame   ffmpeg -threads 1 %.1f ms CPU/frame", run, a, f))
}
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
print(String(format: "median: agent %.1f ms/frame   ffmpeg %.1f ms/frame   ratio agent/ffmpeg %.2f",
             median(agent), median(ffmpeg), median(agent) / median(ffmpeg)))
