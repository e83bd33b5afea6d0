import Crypto
import Foundation
import ObjectStorage

/// The farm's text-to-speech service (`POST /v1/speech`): speaks a text with the
/// offline engine agents narrate with (espeak-ng, or `FARM_SPEECH_ENGINE`), once
/// per (text, voice, engine): the WAV is kept in the store under
/// `speech/<sha256>.wav` and served from there afterwards.
///
/// The text comes from a stranger: it goes to the engine on stdin (never as an
/// argument), is bounded in length, and the engine runs on a thread of its own
/// under a watchdog. At most `maxConcurrent` syntheses run at once; more are
/// refused at once rather than queued.
actor SpeechSynthesizer {
    let engine: String
    let timeout: Duration
    private var running = 0
    static let maxConcurrent = 2
    static let maxCharacters = 10_000

    init(engine: String = ProcessInfo.processInfo.environment["FARM_SPEECH_ENGINE"] ?? "espeak-ng", timeout: Duration = .seconds(60)) {
        self.engine = engine
        self.timeout = timeout
    }

    enum Failure: Error, Equatable {
        case invalid(String)
        case busy
        case unavailable(String)
        case failed(String)
    }

    /// The key a (text, voice) is kept under: the same text spoken the same way is the same file.
    nonisolated func key(text: String, voice: String) -> String {
        let material = "\(engine)\n\(voice)\n\(Self.normalised(text))"
        return "speech/" + SHA256.hash(data: Data(material.utf8)).map { String(format: "%02x", $0) }.joined() + ".wav"
    }

    /// Runs of white space become one space, as manim-voiceover does before speaking.
    static func normalised(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    static func check(text: String, voice: String) throws(Failure) {
        let spoken = normalised(text)
        guard !spoken.isEmpty, spoken.count <= maxCharacters else {
            throw .invalid("the text has \(spoken.count) characters to speak; 1 to \(maxCharacters) are spoken")
        }
        guard (1...20).contains(voice.utf8.count), voice.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D })
        else { throw .invalid("the voice \(voice.prefix(40).debugDescription) is not a voice name (letters, digits and -, like en or en-us)") }
    }

    /// The WAV for `text` in `voice`, and whether it came from the store.
    func speak(_ text: String, voice: String, store: any ObjectStore) async throws(Failure) -> (wav: Data, cached: Bool) {
        try Self.check(text: text, voice: voice)
        let key = key(text: text, voice: voice)
        if let stored = try? await store.get(key), Self.isWAV(stored) { return (stored, true) }
        guard running < Self.maxConcurrent else { throw .busy }
        running += 1
        defer { running -= 1 }
        let wav = try await Self.run(engine: engine, voice: voice, text: Self.normalised(text), timeout: timeout)
        guard Self.isWAV(wav) else { throw .failed("\(engine) did not write a WAV file") }
        try? await store.put(wav, key: key, contentType: "audio/wav", cacheControl: nil)  // kept if it can be; served either way
        return (wav, false)
    }

    static func isWAV(_ data: Data) -> Bool {
        data.count > 44 && data.prefix(4) == Data("RIFF".utf8) && data.dropFirst(8).prefix(4) == Data("WAVE".utf8)
    }

    /// The engine on a thread of its own: text on stdin, the WAV into a temporary file, killed after `timeout`.
    private static func run(engine: String, voice: String, text: String, timeout: Duration) async throws(Failure) -> Data {
        let result: Result<Data, Failure> = await withCheckedContinuation { continuation in
            Thread {
                let output = FileManager.default.temporaryDirectory.appendingPathComponent("farm-speech-\(UUID().uuidString).wav")
                defer { try? FileManager.default.removeItem(at: output) }
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = [engine, "-v", voice, "-w", output.path, "--stdin"]
                let stdin = Pipe(), stderr = Pipe()
                process.standardInput = stdin
                process.standardOutput = FileHandle.nullDevice
                process.standardError = stderr
                do {
                    try process.run()
                } catch {
                    return continuation.resume(returning: .failure(.unavailable("\(engine) cannot be started: \(error)")))
                }
                try? stdin.fileHandleForWriting.write(contentsOf: Data(text.utf8))
                try? stdin.fileHandleForWriting.close()
                let pid = process.processIdentifier
                let finished = DispatchSemaphore(value: 0)
                Thread {
                    let milliseconds = timeout.components.seconds * 1_000
                    if finished.wait(timeout: .now() + .milliseconds(Int(milliseconds))) == .timedOut { kill(pid, SIGKILL) }
                }.start()
                let errors = stderr.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                finished.signal()
                if process.terminationStatus == 127 {
                    return continuation.resume(returning: .failure(.unavailable("no speech engine \(engine) is installed on this coordinator")))
                }
                guard process.terminationReason == .exit, process.terminationStatus == 0, let wav = try? Data(contentsOf: output) else {
                    let why = String(decoding: errors.suffix(500), as: UTF8.self)
                    return continuation.resume(returning: .failure(.failed("\(engine) could not speak the text (\(process.terminationStatus)): \(why)")))
                }
                continuation.resume(returning: .success(wav))
            }.start()
        }
        return try result.get()
    }
}
