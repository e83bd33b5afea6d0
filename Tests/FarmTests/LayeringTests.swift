import Foundation
import Testing

/// Layers import only downward: the README's table of modules, checked against every source file.
@Suite struct LayeringTests {
    /// Project modules each module may import (anything not a project module is a dependency's, not checked here).
    static let allowed: [String: Set<String>] = [
        "CZeroMQ": [], "CFFmpeg": [], "CLZ4": [], "CZlib": [], "CPosix": [], "CPixels": [],
        "ZeroMQ": ["CZeroMQ"],
        "FarmProtocol": ["CLZ4", "CZlib"],
        "Media": ["CFFmpeg", "CPixels"],
        "Packaging": ["FarmProtocol", "CPosix"],
        "ObjectStorage": [],
        "FarmLogging": [],
        "FarmTracing": [],
        "FarmModel": ["FarmProtocol"],
        "FarmStorage": ["FarmModel", "FarmProtocol"],
        "Coordinator": ["FarmStorage", "FarmModel", "FarmProtocol", "Packaging", "ZeroMQ", "ObjectStorage", "FarmTracing"],
        "Agent": ["FarmProtocol", "Media", "Packaging", "ZeroMQ", "CPosix", "FarmTracing"],
        "farm": ["FarmModel", "FarmProtocol"],
        "farm-coordinator": ["Coordinator", "FarmModel", "FarmStorage", "FarmProtocol", "ZeroMQ", "ObjectStorage", "FarmLogging", "FarmTracing"],
        "farm-agent": ["Agent", "FarmProtocol", "ZeroMQ", "FarmLogging", "FarmTracing"],
    ]

    static var sources: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
    }

    @Test func everyModuleIsInTheTable() throws {
        let modules = try FileManager.default.contentsOfDirectory(atPath: Self.sources.path).filter { !$0.hasPrefix(".") }
        #expect(Set(modules) == Set(Self.allowed.keys), "a module was added or removed without updating the layering table")
    }

    @Test func modulesImportOnlyDownward() throws {
        let projectModules = Set(Self.allowed.keys)
        var violations: [String] = []
        var filesChecked = 0
        for (module, allowed) in Self.allowed {
            let folder = Self.sources.appendingPathComponent(module)
            guard let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { continue }
            for case let file as URL in files where file.pathExtension == "swift" {
                filesChecked += 1
                for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") {
                    let words = line.split(separator: " ")
                    guard let index = words.firstIndex(of: "import"), words[..<index].allSatisfy({ $0.hasPrefix("@") }),
                          index + 1 < words.count else { continue }
                    let imported = String(words[index + 1])
                    if projectModules.contains(imported), !allowed.contains(imported) {
                        violations.append("\(module)/\(file.lastPathComponent) imports \(imported)")
                    }
                }
            }
        }
        #expect(filesChecked > 100, "the sources were not found at \(Self.sources.path)")
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
    }
}
