import Crypto
import FarmModel
import FarmProtocol
import Foundation

/// Files a script reads, submitted with it: checked, kept in the store beside the
/// video's attempts (`staging/<video>/assets/<name>`, never published, gone with the
/// video's staging), and sent with every task, inline from the data folder or as
/// presigned GETs from an object store.
extension FarmEngine {
    /// Checks a submission's assets and stores them; returns what the video keeps of them.
    /// - Throws: `SubmissionError.invalidAssets` for anything but a few safe, small files.
    func storeAssets(_ assets: [SubmittedAsset], videoID: String, scriptName: String) async throws(SubmissionError) -> [AssetRef] {
        guard assets.count <= AssetFile.maxCount else {
            throw .invalidAssets("\(assets.count) assets; at most \(AssetFile.maxCount)")
        }
        var names: Set<String> = []
        var total = 0
        for asset in assets {
            guard AssetFile.isSafeName(asset.name) else {
                throw .invalidAssets("\(asset.name.prefix(64).debugDescription) is not a relative path of letters, digits, . _ - "
                    + "(at most 4 folders deep, no part starting with a dot)")
            }
            guard asset.name != scriptName else { throw .invalidAssets("\(asset.name) is the script's own name") }
            // The farm's own folder: the LaTeX a video's planning pass compiled, left out of the cache keys because the
            // script alone decides it. A submitted file there could feed renders that others then take from the cache.
            guard !asset.name.hasPrefix(GeneratedFile.texFolder) else {
                throw .invalidAssets("\(asset.name) is in \(GeneratedFile.texFolder), the folder the farm keeps for the LaTeX it compiles")
            }
            guard names.insert(asset.name).inserted else { throw .invalidAssets("\(asset.name) is given twice") }
            total += asset.data.count
        }
        guard total <= AssetFile.maxTotalBytes else {
            throw .invalidAssets("the assets are \(total) bytes together; the limit is \(AssetFile.maxTotalBytes)")
        }
        var refs: [AssetRef] = []
        for asset in assets {
            let sha256 = SHA256.hash(data: asset.data).map { String(format: "%02x", $0) }.joined()
            do {
                try await outputs.store.put(asset.data, key: assetKey(videoID: videoID, name: asset.name),
                                            contentType: "application/octet-stream", cacheControl: nil)
            } catch {
                throw .notPersisted("the assets could not be stored: \(error)")
            }
            refs.append(AssetRef(name: asset.name, size: asset.data.count, sha256: sha256))
        }
        return refs
    }

    func assetKey(videoID: String, name: String) -> String {
        outputs.attemptsPrefix(videoID) + "assets/" + name
    }

    /// A task's assets as its agent gets them; `nil` when the video has none.
    /// - Throws: when the store cannot hand them out (the assignment then waits for another round).
    func assetFiles(for video: VideoRecord) async throws -> [AssetFile]? {
        guard let assets = video.options.assets, !assets.isEmpty else { return nil }
        var files: [AssetFile] = []
        for asset in assets {
            let key = assetKey(videoID: video.id, name: asset.name)
            if let s3 = configuration.objectOutputs?.s3 {
                let url = try await s3.presignedGet(key: key, expires: configuration.objectOutputs?.uploadURLSeconds ?? 3_600)
                files.append(AssetFile(name: asset.name, size: asset.size, sha256: asset.sha256, url: url.absoluteString))
            } else {
                files.append(AssetFile(name: asset.name, size: asset.size, sha256: asset.sha256, data: try await outputs.store.get(key)))
            }
        }
        return files
    }

    /// The name of an asset of `video` that the store says it does not hold; `nil` when all are there or it cannot tell.
    func lostAsset(of video: VideoRecord) async -> String? {
        for asset in video.options.assets ?? [] {
            if case .some(.none) = try? await outputs.store.head(assetKey(videoID: video.id, name: asset.name)) { return asset.name }
        }
        return nil
    }

    /// A plan, with the files its pass made (narration, the LaTeX it compiled) stored as the video's assets first, so
    /// that the render tasks the plan creates carry them. The plan itself goes on without their bytes.
    func receive(_ planned: PlanResult, from peer: Data) async {
        let files = planned.scenes.flatMap { $0.generated ?? [] }
        var stripped = planned
        for index in stripped.scenes.indices { stripped.scenes[index].generated = nil }
        guard !files.isEmpty, let task = core.current(planned.ref, from: peer), let video = core.videos[task.videoID] else {
            return await apply(.planned(stripped, peer: peer))
        }
        // The last version of a name wins (the voiceover cache's index grows sentence by sentence).
        var latest: [String: Data] = [:]
        var order: [String] = []
        for file in files {
            if latest.updateValue(file.data, forKey: file.name) == nil { order.append(file.name) }
        }
        let isLaTeX = { (name: String) in name.hasPrefix(GeneratedFile.texFolder) }
        let kept = (video.options.assets ?? []).filter { latest[$0.name] == nil }
        let narration = order.filter { !isLaTeX($0) }
        var count = kept.count + narration.count
        var total = kept.reduce(0) { $0 + $1.size } + narration.reduce(0) { $0 + latest[$1]!.count }
        guard count <= AssetFile.maxCount, total <= AssetFile.maxTotalBytes else {
            return await apply(.generatedRefused(videoID: video.id, reason:
                "the narration the plan spoke (\(narration.count) files) and the submitted files come to \(count) files and "
                    + "\(total) bytes; a video may carry at most \(AssetFile.maxCount) files and \(AssetFile.maxTotalBytes) bytes"))
        }
        // The LaTeX only saves the renders time: what does not fit beside the rest is left for them to compile.
        var carried = Set(narration)
        for name in order where isLaTeX(name) {
            let size = latest[name]!.count
            guard count + 1 <= AssetFile.maxCount, total + size <= AssetFile.maxTotalBytes else { continue }
            carried.insert(name)
            count += 1
            total += size
        }
        if carried.count < order.count {
            logger.info("the renders compile some of the plan's LaTeX again: the video's files are full", metadata: [
                "video": "\(video.id)", "left": "\(order.count - carried.count)"])
        }
        order = order.filter(carried.contains)
        var refs: [AssetRef] = []
        for name in order {
            let data = latest[name]!
            do {
                try await outputs.store.put(data, key: assetKey(videoID: video.id, name: name), contentType: "application/octet-stream",
                                            cacheControl: nil)
            } catch {
                logger.error("could not store the files a plan made", metadata: ["video": "\(video.id)", "error": "\(error)"])
                return await apply(.generatedRefused(videoID: video.id, reason: "the files the plan made could not be stored: \(error)"))
            }
            refs.append(AssetRef(name: name, size: data.count, sha256: SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()))
        }
        await apply(.planned(stripped, peer: peer, generated: refs))
    }
}
