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

    @Option(name: .customLong("asset"),
            help: "A file the script reads (image, SVG, sound, data), by its path relative to the script; repeat for more. A folder adds the files in it.")
    var assets: [String] = []

    @Option(help: "Seconds a scene without animations stays on screen in the video (0: only its picture, as plain Manim saves it).")
    var stillSeconds: Double?

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
        request.stillSeconds = stillSeconds
        if !assets.isEmpty {
            do {
                request.assets = try Self.readAssets(assets, besideScript: URL(fileURLWithPath: script).deletingLastPathComponent())
            } catch {
                printError("\(error)")
                throw FarmExit.refused
            }
        }
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

    /// Reads each asset (a file, or every file under a folder) under its path relative to the script's folder.
    static func readAssets(_ paths: [String], besideScript base: URL) throws -> [SubmittedAsset] {
        var assets: [SubmittedAsset] = []
        let root = base.standardizedFileURL.path + "/"
        for path in paths {
            let url = URL(fileURLWithPath: path, relativeTo: base).standardizedFileURL
            var files = [url]
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
                files = (FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey])?
                    .compactMap { $0 as? URL }.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }) ?? []
            }
            for file in files {
                guard file.path.hasPrefix(root) else {
                    throw ValidationError("asset \(file.path) is not in the script's folder \(root): the script could not open it by a relative path")
                }
                assets.append(SubmittedAsset(name: String(file.path.dropFirst(root.count)), data: try Data(contentsOf: file)))
            }
        }
        return assets
    }

}

extension Quality: ExpressibleByArgument {
}
