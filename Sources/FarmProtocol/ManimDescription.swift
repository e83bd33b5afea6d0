import Foundation

/// Coordinator → agent: list the public API of the Manim this agent renders with. Script generation pins its
/// system prompt to it: the names a generated script may use are those the agents have, not the coordinator's
/// (which runs no Manim) nor a list written by hand.
public struct DescribeManim: Codable, Sendable, Equatable {
    /// Names this request in the answer (`ManimDescription.id`).
    public var id: String

    public init(id: String) {
        self.id = id
    }
}

/// Agent → coordinator: the installed Manim's public names by kind (`scenes`, `mobjects` and `animations` with
/// their constructors' parameters, `functions`, `constants`, `other classes`), or why they could not be listed.
public struct ManimDescription: Codable, Sendable, Equatable {
    public var id: String
    public var manimVersion: String?
    public var sections: [String: [String]]?
    public var error: String?

    public init(id: String, manimVersion: String? = nil, sections: [String: [String]]? = nil, error: String? = nil) {
        self.id = id
        self.manimVersion = manimVersion
        self.sections = sections
        self.error = error
    }

    /// Bounds an answer is held to: it becomes part of every prompt sent to a paid model.
    public static let maxSections = 12
    public static let maxNamesPerSection = 2_000
    public static let maxNameBytes = 400
    public static let maxTotalBytes = 512 << 10
}

extension DescribeManim: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.identifier(id, "id")
    }
}

extension ManimDescription: ValidatedMessage {
    public func validate() throws(WireError) {
        try Check.identifier(id, "id")
        if let manimVersion { try Check.identifier(manimVersion, "manimVersion") }
        if let error { try Check.text(error, "error") }
        guard let sections else { return }
        try Check.count(sections, Self.maxSections, "sections")
        var total = 0
        for (name, names) in sections {
            guard (1...40).contains(name.utf8.count), name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == " ") }) else {
                throw .invalidBody("a section's name is 1 to 40 lowercase letters and spaces")
            }
            try Check.count(names, Self.maxNamesPerSection, "names of \(name)")
            for entry in names {
                // One line each: an entry cannot smuggle lines of its own into the prompt.
                guard (1...Self.maxNameBytes).contains(entry.utf8.count), !entry.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                    throw .invalidBody("an entry of \(name) is empty, longer than \(Self.maxNameBytes) bytes, or holds a control character")
                }
                total += entry.utf8.count
            }
        }
        try Check.range(total, 0...Self.maxTotalBytes, "the description's size")
    }
}
