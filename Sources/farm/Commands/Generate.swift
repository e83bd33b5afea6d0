import ArgumentParser
import FarmModel
import FarmProtocol
import Foundation

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a video; a language model writes its Manim script, the farm checks, repairs and renders it.",
        discussion: """
            The coordinator must have a provider configured (see the README's "Generate a video from a prompt"). \
            With --wait, each round is shown as it ends (the model's script, and why the farm did not accept it), \
            then the video's progress; `farm generation ID --script` prints the script that was rendered.
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "What the video should explain.")
    var prompt: String

    @Option(help: "How it should look (\"dark background, calm pace\").")
    var style: String?

    @Option(help: "low (480p15), medium (720p30), high (1080p60) or 4k (2160p60).")
    var quality: Quality = .high

    @Option(help: "How long the video should run, in seconds (5 to 600).")
    var seconds = GenerationRequest.defaultTargetSeconds

    @Flag(help: "Ask the model again even if this prompt was answered before (default: reuse that script).")
    var fresh = false

    @Option(help: "Higher runs first (creators: 0 or lower).")
    var priority = 0

    @Flag(help: "Wait for the script and its video, showing each round and the video's progress.")
    var wait = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        let client = try options.client
        let request = GenerationRequest(prompt: prompt, style: style, quality: quality, targetSeconds: seconds,
                                        fresh: fresh ? true : nil, priority: priority)
        let job: GenerationRecord
        do {
            job = try await client.generate(request)
        } catch let error as FarmClient.ClientError {
            printError(error.description)
            throw error.exitCode
        }
        guard wait else {
            if json { try printJSON(job) } else { print(job.id) }
            return
        }
        if !json { FileHandle.standardError.write(Data("generation \(job.id): \(job.provider)/\(job.model)\n".utf8)) }
        let written = try await Self.follow(job.id, client: client, json: json)
        guard let videoID = written.videoID, written.state != .failed else {
            if json { try printJSON(written) } else { printError("generation \(written.id) failed: \(written.error ?? "")") }
            throw FarmExit.videoFailed
        }
        if !json { FileHandle.standardError.write(Data("video \(videoID)\n".utf8)) }
        let final = try await Follow(client: client, json: json).follow(videoID)
        try Follow.report(final, client: client, json: json)
    }

    /// Polls the job until it has a video or has failed, printing each round once it ends.
    static func follow(_ id: String, client: FarmClient, json: Bool) async throws -> GenerationRecord {
        var shown = 0
        var announcedReuse = false
        return try await Follow.poll({ try await client.generation(id) }) { job in
            if !json {
                if let reused = job.reusedFrom, !announcedReuse {
                    FileHandle.standardError.write(Data("reusing the script of \(reused) (--fresh asks the model again)\n".utf8))
                    announcedReuse = true
                }
                for round in job.rounds.dropFirst(shown) where round.endedAt != nil {
                    FileHandle.standardError.write(Data((Generation.describe(round) + "\n").utf8))
                    shown += 1
                }
            }
            return job.videoID != nil || job.state.isFinal
        }
    }
}

struct Generation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a generation: its rounds, errors and video.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The generation's id (g…).")
    var id: String

    @Flag(help: "Print only the script that was accepted (to keep it: `farm generation ID --script > lesson.py`).")
    var script = false

    @Flag(help: "Stop the job; its check or video is cancelled with it.")
    var cancel = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        let client = try options.client
        let job: GenerationRecord
        do {
            job = cancel ? try await client.cancelGeneration(id) : try await client.generation(id)
        } catch let error as FarmClient.ClientError {
            printError(error.description)
            throw error.exitCode
        }
        if json { return try printJSON(job) }
        if script {
            guard let accepted = job.script else {
                printError("generation \(job.id) has no accepted script (\(job.state.rawValue))")
                throw FarmExit.videoFailed
            }
            return print(accepted, terminator: "")
        }
        print("generation \(job.id): \(job.state.rawValue), \(job.provider)/\(job.model), Manim \(job.manimVersion ?? "?")")
        print("prompt: \(job.request.prompt)")
        if let reused = job.reusedFrom { print("script reused from \(reused)") }
        for round in job.rounds { print(Generation.describe(round)) }
        print(String(format: "tokens: %d, cost: $%.4f", job.tokens, job.costUSD))
        if let video = job.videoID { print("video: \(video) (\(client.url("/videos/\(video)").absoluteString))") }
        if let error = job.error { print("error: \(error)") }
    }

    /// `round 2: planning failed: NameError: …` or `round 3: accepted, 28.0 s planned`.
    static func describe(_ round: GenerationRound) -> String {
        let tokens = "\(round.promptTokens + round.outputTokens) tokens"
        guard let error = round.error else {
            return "round \(round.number): accepted" + (round.plannedSeconds.map { String(format: ", %.1f s planned", $0) } ?? "")
                + ", \(tokens)"
        }
        let firstLine = error.split(separator: "\n").first.map(String.init) ?? error
        return "round \(round.number): \(round.stage ?? "failed"): \(firstLine.prefix(300)) (\(tokens))"
    }
}
