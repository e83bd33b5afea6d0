import CPosix
import FarmProtocol
import Foundation
import Glibc
import Synchronization

/// How a simulated agent renders: for fleet benchmarks, where hundreds of
/// agents share one machine and only the coordinator is under test.
public struct SimulatedRender: Sendable {
    /// Seconds of sleeping per second of video.
    public var secondsPerVideoSecond: Double
    /// Height of the blank frames it emits (width is 16:9).
    public var frameHeight: Int
    /// Frames per second of video it emits: one, so that hundreds of simulated
    /// agents sharing one machine spend their CPU on the farm, not on x264.
    public var frameRate: Int

    public init(secondsPerVideoSecond: Double = 1, frameHeight: Int = 144, frameRate: Int = 1) {
        self.secondsPerVideoSecond = secondsPerVideoSecond
        self.frameHeight = frameHeight
        self.frameRate = frameRate
    }
}

/// Stands in for Manim: speaks the shim's stream format over a pipe so the
/// rest of the agent (encoding, uploads, limits) runs unchanged.
///
/// A plan reads `self.wait(seconds)` calls per scene class from the script
/// (the benchmark's scripts are made of them); a render sleeps for the range's
/// run time and then emits that many blank frames.
final class SimulatedProcess: ManimProcess, @unchecked Sendable {
    let stdout: Int32
    let stderr: Int32
    private let writeEnd: Int32
    private let killed = Atomic<Bool>(false)
    private let ended = DispatchSemaphore(value: 0)
    private let outcome = Mutex<ChildProcess.Termination>(.exited(0))

    init(assign: Assign, frameRate: Int, settings: SimulatedRender) throws {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe2(&outPipe, O_CLOEXEC) == 0, pipe2(&errPipe, O_CLOEXEC) == 0 else {
            throw ChildProcess.SpawnError(code: errno, executable: "simulated renderer")
        }
        stdout = outPipe[0]
        stderr = errPipe[0]
        writeEnd = outPipe[1]
        close(errPipe[1])  // a simulated render logs nothing
        let thread = Thread { [self] in
            outcome.withLock { $0 = run(assign, frameRate: frameRate, settings: settings) }
            close(writeEnd)
            ended.signal()
        }
        thread.name = "simulated-render"
        thread.start()
    }

    deinit {
        close(stdout)
        close(stderr)
    }

    func signalGroup(_ signal: Int32) {
        killed.store(true, ordering: .relaxed)
    }

    func wait() -> ChildProcess.Termination {
        ended.wait()
        ended.signal()
        return outcome.withLock { $0 }
    }

    // MARK: Simulation

    private func run(_ assign: Assign, frameRate: Int, settings: SimulatedRender) -> ChildProcess.Termination {
        let plans = Self.plans(in: assign.script, of: Set(assign.scenes ?? [assign.scene]), frameRate: frameRate)
        if assign.taskKind == .plan {
            for scene in assign.scenes ?? [assign.scene] {
                let plan = plans[scene] ?? ScenePlan(scene: scene, animations: [])
                let body = (try? JSONEncoder().encode(plan)) ?? Data()
                guard write(Data("PLAN".utf8) + Self.uint32(body.count) + body) else { return .signalled(SIGPIPE) }
            }
            return .exited(0)
        }
        let animations = plans[assign.scene]?.animations ?? []
        let range = assign.animations ?? AnimationRange(first: 0, last: max(animations.count - 1, 0))
        let chosen = animations.indices.filter { range.first <= $0 && $0 <= range.last }.map { animations[$0] }
        let seconds = chosen.reduce(0) { $0 + $1.seconds } * settings.secondsPerVideoSecond
        let deadline = Date() + seconds
        while Date() < deadline {
            if killed.load(ordering: .relaxed) { return .signalled(SIGKILL) }
            Thread.sleep(forTimeInterval: min(0.05, max(deadline.timeIntervalSinceNow, 0)))
        }
        let height = settings.frameHeight
        let width = (height * 16 / 9 + 1) / 2 * 2
        let frames = max(Int((chosen.reduce(0) { $0 + $1.seconds } * Double(settings.frameRate)).rounded()), 1)
        // One still frame repeated, as Manim sends a `wait`: hundreds of simulated agents share this machine.
        var header = Data("FRAM".utf8) + Self.uint32(width) + Self.uint32(height) + Self.uint32(frames)
        withUnsafeBytes(of: Double(settings.frameRate).bitPattern.littleEndian) { header.append(contentsOf: $0) }
        guard write(header), write(Data(repeating: 40, count: width * height * 4)) else { return .signalled(SIGPIPE) }
        guard write(Data("DONE".utf8) + Self.uint32(chosen.count)) else { return .signalled(SIGPIPE) }
        return .exited(0)
    }

    private func write(_ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(writeEnd, raw.baseAddress! + done, raw.count - done)
                if n > 0 { done += n } else if n < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
    }

    private static func uint32(_ value: Int) -> Data {
        withUnsafeBytes(of: UInt32(value).littleEndian) { Data($0) }
    }

    /// `self.wait(seconds)` calls of each `class Name(...)` among `scenes`, in order.
    ///
    /// Scans bytes rather than `String` lines: a fleet benchmark's script has
    /// thousands of lines, and hundreds of simulated agents read it at once.
    static func plans(in script: String, of scenes: Set<String>, frameRate: Int) -> [String: ScenePlan] {
        let bytes = Array(script.utf8)
        let classPrefix = Array("class ".utf8), waitPrefix = Array("self.wait(".utf8)
        var plans: [String: ScenePlan] = [:]
        var current: String?
        var lineStart = 0
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            var start = lineStart
            while start < lineEnd, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
            let line = bytes[start..<lineEnd]
            if line.starts(with: classPrefix), let open = line.firstIndex(of: UInt8(ascii: "(")) {
                let name = String(decoding: bytes[(start + classPrefix.count)..<open], as: UTF8.self)
                current = scenes.contains(name) ? name : nil
                if let current { plans[current] = ScenePlan(scene: current, animations: []) }
            } else if let scene = current, line.starts(with: waitPrefix), let close = line.firstIndex(of: UInt8(ascii: ")")),
                      let seconds = Double(String(decoding: bytes[(start + waitPrefix.count)..<close], as: UTF8.self)) {
                plans[scene]?.animations.append(PlannedAnimation(seconds: seconds, frames: Int(seconds * Double(frameRate))))
            }
            lineStart = lineEnd + 1
        }
        return plans
    }
}
