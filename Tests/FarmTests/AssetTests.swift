import FarmModel
import Foundation
import Testing

/// Files a script reads (images, SVGs, data) travel with it: `farm submit --asset`, checked by the coordinator,
/// kept with the video, placed beside the script on every agent (inline from the data folder, by presigned URL
/// from an object store), and part of the cache keys. Unsafe names and oversized sets are refused up front.
@Suite(.serialized) struct AssetTests {
    static let script = """
        from manim import *

        class Card(Scene):
            def construct(self):
                logo = ImageMobject("pictures/logo.png")
                logo.height = 3
                values = [float(x) for x in open("data/heights.txt").read().split()]
                bars = VGroup(*[Rectangle(width=0.4, height=v) for v in values]).arrange(RIGHT, aligned_edge=DOWN)
                self.add(logo.shift(LEFT * 3), bars.shift(RIGHT * 3), SVGMobject("star.svg").scale(0.5).to_edge(UP))
        """

    static let svg = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><polygon points="50,5 61,39 98,39 68,61 79,95 50,74 21,95 32,61 2,39 39,39" fill="gold"/></svg>
        """

    /// A folder with the script and its assets; the logo's colour makes two versions of it.
    static func project(in folder: URL, red: UInt8) throws -> URL {
        for sub in ["pictures", "data"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        let script = folder.appendingPathComponent("card.py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        try "1.0 2.5 1.5 3.0".write(to: folder.appendingPathComponent("data/heights.txt"), atomically: true, encoding: .utf8)
        try Self.svg.write(to: folder.appendingPathComponent("star.svg"), atomically: true, encoding: .utf8)
        try run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0x\(String(format: "%02x", red))4080:s=64x48",
                           "-frames:v", "1", folder.appendingPathComponent("pictures/logo.png").path])
        return script
    }

    @Test func assetsArePlacedBesideTheScriptAndChangeTheCacheKey() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let folder = farm.directory.appendingPathComponent("project")
        let script = try Self.project(in: folder, red: 200)
        let url = farm.http.absoluteString

        // `--asset` takes files and folders by their paths relative to the script.
        let submitted = try farm.cli(["submit", script.path, "--quality", "low", "--asset", "pictures", "--asset", "data/heights.txt",
                                      "--asset", "star.svg", "--wait", "--coordinator", url])
        let first = try #require(submitted.stderr.split(separator: "\n").first { $0.hasPrefix("submitted ") }?.dropFirst(10))
        let status: VideoStatus = try await farm.get("/v1/videos/\(first)")
        try #require(submitted.status == 0 && status.state == .done,
                     "\(submitted.stdout) \(status.scenes.map { "\($0.name): \($0.error?.message ?? "") \($0.error?.logTail.suffix(600) ?? "")" })")
        #expect(submitted.stdout.contains("still Card: "), "\(submitted.stdout)")
        #expect(submitted.stdout.contains("web page:        \(url.hasSuffix("/") ? String(url.dropLast()) : url)/videos/\(first)"), "\(submitted.stdout)")
        #expect(!submitted.stderr.contains("by polling"), "--wait follows the video's event stream: \(submitted.stderr)")
        // Not on a terminal: one line per state change, none per progress tick.
        let lines = submitted.stderr.split(separator: "\n")
        #expect(Set(lines).count == lines.count && !submitted.stderr.contains("frame "), "\(submitted.stderr)")
        #expect(lines.contains { $0.hasSuffix(": rendering") } && lines.contains { $0.contains(" done (") }, "\(submitted.stderr)")

        // Plain Manim in the same folder draws the same picture: the assets were where the script looked.
        let manim = URL(fileURLWithPath: FarmHarness.python).deletingLastPathComponent().appendingPathComponent("manim").path
        let media = farm.directory.appendingPathComponent("plain")
        _ = try runIn(folder, manim, ["render", "-ql", "--disable_caching", "--silent", "--progress_bar", "none", "--media_dir", media.path,
                                      script.path, "Card"])
        let plain = try #require(try FileManager.default.contentsOfDirectory(at: media.appendingPathComponent("images/card"),
                                                                             includingPropertiesForKeys: nil).first)
        let (_, png) = try await farm.send("GET", try #require(status.scenes.first?.still))
        let farmPNG = farm.directory.appendingPathComponent("farm.png")
        try png.write(to: farmPNG)
        #expect(try StillSceneTests.pixels(farmPNG) == StillSceneTests.pixels(plain), "the farm drew what Manim draws with the assets")

        // The same script and assets come from the render cache; another logo does not.
        let again = try farm.cli(["submit", script.path, "--quality", "low", "--asset", "pictures", "--asset", "data/heights.txt",
                                  "--asset", "star.svg", "--wait", "--json", "--coordinator", url])
        let cached = try JSONDecoder.farm.decode(VideoStatus.self, from: Data(again.stdout.utf8))
        #expect(cached.scenes.first?.note == "from the render cache", "\(cached.scenes.map(\.note))")
        _ = try Self.project(in: folder, red: 20)
        let changed = try farm.cli(["submit", script.path, "--quality", "low", "--asset", "pictures", "--asset", "data/heights.txt",
                                    "--asset", "star.svg", "--wait", "--json", "--coordinator", url])
        let rendered = try JSONDecoder.farm.decode(VideoStatus.self, from: Data(changed.stdout.utf8))
        #expect(rendered.state == .done)
        #expect(rendered.scenes.first?.note == nil, "a changed asset is rendered again")
    }

    /// With an object store the assets are there too, and agents fetch them with presigned URLs.
    @Test func agentsFetchAssetsFromTheObjectStore() async throws {
        let moto = try await ObjectStorageTests.MotoS3(bucket: "farm-assets")
        let farm = try await FarmHarness(agents: [[]], coordinatorArguments: ObjectStoreFarmTests.storage("farm-assets/published", at: moto.endpoint),
                                         environment: ObjectStorageTests.MotoS3.environment)
        let folder = farm.directory.appendingPathComponent("project")
        _ = try Self.project(in: folder, red: 90)
        var request = SubmitRequest(script: Self.script, scriptName: "card.py", quality: .low)
        request.assets = try ["pictures/logo.png", "data/heights.txt", "star.svg"].map {
            SubmittedAsset(name: $0, data: try Data(contentsOf: folder.appendingPathComponent($0)))
        }
        let (code, body) = try await farm.submit(request)
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id
        let status = try await farm.waitUntilFinal(id)
        #expect(status.state == .done, "\(status.scenes.map { "\($0.name): \($0.error?.message ?? "")" })")
        let stored = try await moto.client().list(prefix: "staging/\(id)/assets/").map(\.key).sorted()
        #expect(stored == ["data/heights.txt", "pictures/logo.png", "star.svg"].map { "staging/\(id)/assets/\($0)" })
        #expect(try await moto.client().list(prefix: "published/\(id)/").allSatisfy { !$0.key.contains("assets") }, "never published")
    }

    /// A submitted file that vanished from the data folder fails its video, naming it, instead of requeueing it for ever.
    @Test func aVideoWhoseStoredAssetIsGoneFailsNamingIt() async throws {
        let farm = try await FarmHarness(agents: [])
        let folder = farm.directory.appendingPathComponent("project")
        _ = try Self.project(in: folder, red: 40)
        var request = SubmitRequest(script: Self.script, scriptName: "card.py", quality: .low, split: false)
        request.assets = try ["pictures/logo.png", "data/heights.txt", "star.svg"].map {
            SubmittedAsset(name: $0, data: try Data(contentsOf: folder.appendingPathComponent($0)))
        }
        let (code, body) = try await farm.submit(request)
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id
        let stored = try #require(FileManager.default.enumerator(at: farm.directory, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.first { $0.path.hasSuffix("\(id)/assets/star.svg") }, "the asset is stored")
        try FileManager.default.removeItem(at: stored)
        try farm.startAgent(index: 0)
        let status = try await farm.waitUntilFinal(id)
        #expect(status.state == .failed)
        #expect(status.error?.contains("star.svg") == true, "\(status.error ?? "")")
    }

    @Test func unsafeOrOversizedAssetsAreRefusedWithTheReason() async throws {
        let farm = try await FarmHarness(agents: [])
        let script = "from manim import *\n\nclass A(Scene):\n    def construct(self):\n        self.add(Dot())\n"
        func submit(_ assets: [SubmittedAsset]) async throws -> (Int, String) {
            var request = SubmitRequest(script: script, scriptName: "a.py", quality: .low)
            request.assets = assets
            let (code, body) = try await farm.submit(request)
            return (code, String(decoding: body, as: UTF8.self))
        }
        let byte = Data([1])
        for name in ["../escape.png", "/etc/passwd", ".hidden", "a/../../b", "pictures/.git/x", "a b.png", "", "a//b", "a/b/c/d/e",
                     "a.py"] {
            let (code, body) = try await submit([SubmittedAsset(name: name, data: byte)])
            #expect(code == 422 && body.contains("invalid assets"), "\(name.debugDescription): \(code) \(body)")
        }
        let (twice, _) = try await submit([SubmittedAsset(name: "x.png", data: byte), SubmittedAsset(name: "x.png", data: byte)])
        #expect(twice == 422)
        let many = (0...64).map { SubmittedAsset(name: "f\($0).txt", data: byte) }
        let (tooMany, manyBody) = try await submit(many)
        #expect(tooMany == 422 && manyBody.contains("at most 64"), "\(manyBody)")
        let big = (0..<3).map { SubmittedAsset(name: "big\($0).bin", data: Data(count: 5_700_000)) }  // 17.1 MB, under the request limit
        let (tooBig, bigBody) = try await submit(big)
        #expect(tooBig == 422 && bigBody.contains("the limit is"), "\(bigBody)")
        let videos: VideoPage = try await farm.get("/v1/videos")
        #expect(videos.videos.isEmpty, "nothing was accepted")
    }
}

/// `run` in `folder` (Manim resolves a script's relative paths from its working folder).
@discardableResult
func runIn(_ folder: URL, _ executable: String, _ arguments: [String]) throws -> (stdout: String, stderr: String) {
    try run("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", folder.path, executable] + arguments)
}
