import Foundation
import ObjectStorage
import Packaging

/// The data folder as an object store: a key is a path under `root`. Objects
/// appear whole (written beside, then renamed into place); a copy is a hard link
/// where the file system allows; an upload in parts is a hidden file that grows
/// and is renamed into place when completed. Blocking file I/O runs on the
/// store's own serial queue, never on Swift's cooperative pool.
struct LocalFolderStore: ObjectStore {
    let root: URL
    let partSize = 16 << 20
    private let queue = DispatchQueue(label: "farm.local-store")

    init(root: URL) {
        self.root = root
    }

    private func url(_ key: String) throws -> URL {
        // Keys are built by the farm from ids it checked; refuse anything that could leave the root anyway.
        guard !key.isEmpty, !key.hasPrefix("/"), !key.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            throw LocalStoreError("key \(key) leaves the store")
        }
        return root.appendingPathComponent(key)
    }

    func put(_ data: Data, key: String, contentType: String, cacheControl: String?) async throws {
        let target = try url(key)
        try await offloaded(on: queue) { try Self.replace(target) { try OutputFiles.write(data, to: $0) } }
    }

    func get(_ key: String) async throws -> Data {
        let source = try url(key)
        return try await offloaded(on: queue) { try Data(contentsOf: source) }
    }

    func head(_ key: String) async throws -> ObjectInfo? {
        let source = try url(key)
        return try await offloaded(on: queue) {
            guard let size = (try? FileManager.default.attributesOfItem(atPath: source.path))?[.size] as? Int else { return nil }
            return ObjectInfo(size: size, etag: "", etagIsMD5: false)
        }
    }

    func copy(from source: String, to key: String, contentType: String, cacheControl: String?) async throws {
        let from = try url(source), target = try url(key)
        try await offloaded(on: queue) {
            try Self.replace(target) { partial in
                if (try? FileManager.default.linkItem(at: from, to: partial)) == nil {
                    try FileManager.default.copyItem(at: from, to: partial)
                }
            }
        }
    }

    func list(prefix: String) async throws -> [(key: String, size: Int)] {
        let folder = root.appendingPathComponent(prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix)
        let rootPath = root.standardizedFileURL.path + "/"
        return try await offloaded(on: queue) {
            guard let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey])
            else { return [] }
            var result: [(key: String, size: Int)] = []
            for case let file as URL in files {
                let values = try file.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey])
                guard values.isRegularFile == true, !file.lastPathComponent.hasPrefix(".") else { continue }
                result.append((String(file.standardizedFileURL.path.dropFirst(rootPath.count)), values.fileSize ?? 0))
            }
            return result.sorted { $0.key < $1.key }
        }
    }

    @discardableResult
    func deletePrefix(_ prefix: String) async throws -> Int {
        let count = try await list(prefix: prefix).count
        let folder = try url(prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix)
        try await offloaded(on: queue) {
            if FileManager.default.fileExists(atPath: folder.path) { try FileManager.default.removeItem(at: folder) }
        }
        return count
    }

    func createMultipartUpload(key: String, contentType: String, cacheControl: String?) async throws -> String {
        let target = try url(key)
        let id = ".\(target.lastPathComponent).parts-\(UUID().uuidString)"
        try await offloaded(on: queue) {
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: target.deletingLastPathComponent().appendingPathComponent(id).path, contents: nil)
        }
        return id
    }

    func uploadPart(_ part: Data, key: String, uploadID: String, number: Int) async throws -> String {
        let file = try url(key).deletingLastPathComponent().appendingPathComponent(uploadID)
        try await offloaded(on: queue) {
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: part)
        }
        return String(number)
    }

    func completeMultipartUpload(key: String, uploadID: String, etags: [String]) async throws {
        let target = try url(key)
        let file = target.deletingLastPathComponent().appendingPathComponent(uploadID)
        try await offloaded(on: queue) {
            try Self.replace(target) { partial in try FileManager.default.moveItem(at: file, to: partial) }
        }
    }

    func abortMultipartUpload(key: String, uploadID: String) async {
        guard let file = try? url(key).deletingLastPathComponent().appendingPathComponent(uploadID) else { return }
        _ = try? await offloaded(on: queue) { try FileManager.default.removeItem(at: file) }
    }

    /// Writes `target` through a hidden file beside it and renames it into place, replacing what was there.
    private static func replace(_ target: URL, _ write: (URL) throws -> Void) throws {
        let folder = target.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let partial = folder.appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString)")
        do {
            try write(partial)
            guard rename(partial.path, target.path) == 0 else { throw LocalStoreError("cannot rename into \(target.path): errno \(errno)") }
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
    }
}

struct LocalStoreError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
