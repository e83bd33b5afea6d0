import ArgumentParser
import FarmModel
import FarmProtocol
import Foundation

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Submit a Manim script; with --wait, follow it to the end.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The Manim script (a Python file).")
    var script: String

    @Option(help: "Scenes to render, comma-separated, in the order the video shows them (default: all, in file order).")
    var scenes: String?

    @Option(help: "low (480p15), medium (720p30), high (1080p60) or 4k (2160p60).")
    var quality: Quality = .high

    @Option(help: "Random seed for reproducible renders.")
    var seed = 0

    @Option(help: "Ladder heights, comma-separated (default: the render height and the next two lower).")
    var ladder: String?

    @Option(help: "Resubmitting with the same key returns the same video instead of a new one.")
    var idempotencyKey: String?

    @Option(help: "Higher runs first (creators: 0 or lower; operators up to 1000); equal priorities share agents fairly between teams, then users.")
    var priority = 0

    @Flag(inversion: .prefixedNo, help: "Plan first and render long scenes as animation ranges on several agents.")
    var split = true

    @Flag(inversion: .prefixedNo, help: "Reuse cached renders of unchanged scenes.")
    var cache = true

    @Flag(help: "Wait for the video and show progress.")
    var wait = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        let client = try options.client
        let source: String
        do {
            source = try String(contentsOfFile: script, encoding: .utf8)
        } catch {
            printError("cannot read \(script): \(error.localizedDescription)")
            throw FarmExit.refused
        }
        var heights: [Int]?
        if let ladder {
            heights = try ladder.split(separator: ",").map { part in
                guard let height = Int(part.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--ladder takes heights such as 1080,720,480")
                }
                return height
            }
        }
        var request = SubmitRequest(
            script: source, scriptName: URL(fileURLWithPath: script).lastPathComponent,
            scenes: scenes?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
            quality: quality, seed: seed, ladder: heights, idempotencyKey: idempotencyKey)
        request.priority = priority
        request.split = split
        request.cache = cache
        let status: VideoStatus
        do {
            status = try await client.submit(request)
        } catch let error as FarmClient.ClientError {
            printError(error.description)
            throw error.exitCode
        }
        guard wait else {
            if json { try printJSON(status) } else { print(status.id) }
            return
        }
        if !json { FileHandle.standardError.write(Data("submitted \(status.id)\n".utf8)) }
        let final = try await Follow(client: client, json: json).follow(status.id)
        try Follow.report(final, client: client, json: json)
    }
}

extension Quality: ExpressibleByArgument {}
