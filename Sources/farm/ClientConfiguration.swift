import Foundation

/// The CLI's configuration file: an API key per coordinator URL, so `farm` needs no
/// flags once `farm up` or `farm login` has written it. Path: `$FARM_CONFIG`, else
/// `$XDG_CONFIG_HOME/manimfarm/config.json`, else `~/.config/manimfarm/config.json`;
/// written with mode 0600 since it holds secrets.
struct ClientConfiguration: Codable {
    struct Coordinator: Codable {
        var apiKey: String
    }

    /// Keyed by `ClientConfiguration.key(for:)` of the coordinator's URL.
    var coordinators: [String: Coordinator] = [:]

    static var path: URL {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["FARM_CONFIG"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config", isDirectory: true)
        return base.appendingPathComponent("manimfarm/config.json")
    }

    /// The saved configuration; empty when there is none or it cannot be read.
    static func load() -> ClientConfiguration {
        guard let data = try? Data(contentsOf: path) else { return ClientConfiguration() }
        return (try? JSONDecoder().decode(ClientConfiguration.self, from: data)) ?? ClientConfiguration()
    }

    /// `scheme://host:port` of a coordinator URL, the same however it was typed.
    static func key(for url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? "http"
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        var host = url.host?.lowercased() ?? ""
        if host == "localhost" { host = "127.0.0.1" }
        return "\(scheme)://\(host):\(port)"
    }

    func apiKey(for url: URL) -> String? {
        coordinators[Self.key(for: url)]?.apiKey
    }

    /// Saves `apiKey` for `url`, keeping the other coordinators' keys.
    static func save(apiKey: String, for url: URL) throws {
        var configuration = load()
        configuration.coordinators[key(for: url)] = Coordinator(apiKey: apiKey)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(configuration)
        let folder = path.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Written beside, restricted, then renamed: the key is never readable by others, not even for a moment.
        let temporary = folder.appendingPathComponent(".config-\(UUID().uuidString).json")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: temporary.path)
        let handle = try FileHandle(forWritingTo: temporary)
        try handle.write(contentsOf: data)
        try handle.close()
        guard rename(temporary.path, path.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path.path])
        }
    }
}
