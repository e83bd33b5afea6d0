import Foundation
import Logging

/// Log lines as JSON objects, one per line, with a stable schema an aggregator can index:
///
///     {"time":"2026-12-03T21:40:02.113Z","level":"info","service":"coordinator","host":"ip-10-0-1-7",
///      "logger":"farm.coordinator","message":"scene rendered","video":"v6c…","task":"v6c…-2","attempt":1,
///      "agent":"agent-1","fields":{"frames":"90","scene":"Proof"}}
///
/// `time`, `level`, `service`, `host`, `logger` and `message` are always there; `video`, `task`, `attempt` and
/// `agent` whenever the line concerns one (a task's id names its video, so `video` is filled from it too); any
/// other metadata goes under `fields`. A whole line is one `write(2)`, so lines from several threads never mix.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let service: String
    let host: String
    let write: @Sendable (String) -> Void

    /// Keys lifted to the top level: the ids that tie a coordinator's line to the agent's that did the work.
    static let correlation = ["video", "task", "attempt", "agent"]

    public init(label: String, service: String, host: String = ProcessInfo.processInfo.hostName,
                metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider,
                write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.service = service
        self.host = host
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        if merged["video"] == nil, case .string(let task)? = merged["task"] ?? merged["taskID"], let cut = task.lastIndex(of: "-") {
            merged["video"] = .string(String(task[..<cut]))
        }
        var line = "{\"time\":\(Self.quoted(Self.timestamp(Date())))"
        line += ",\"level\":\(Self.quoted(event.level.rawValue)),\"service\":\(Self.quoted(service)),\"host\":\(Self.quoted(host))"
        line += ",\"logger\":\(Self.quoted(label)),\"message\":\(Self.quoted(event.message.description))"
        for key in Self.correlation {
            guard let value = merged.removeValue(forKey: key) else { continue }
            // An attempt is a number where it is one, so queries can compare it.
            if key == "attempt", case .string(let text) = value, let number = Int(text) {
                line += ",\"attempt\":\(number)"
            } else if key == "attempt", case .stringConvertible(let convertible) = value, let number = Int(convertible.description) {
                line += ",\"attempt\":\(number)"
            } else {
                line += ",\(Self.quoted(key)):\(Self.json(value))"
            }
        }
        if !merged.isEmpty {
            line += ",\"fields\":{" + merged.sorted { $0.key < $1.key }.map { "\(Self.quoted($0.key)):\(Self.json($0.value))" }
                .joined(separator: ",") + "}"
        }
        write(line + "}\n")
    }

    public static let standardError: @Sendable (String) -> Void = { line in writeAll(STDERR_FILENO, line) }

    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): quoted(text)
        case .stringConvertible(let convertible): quoted(convertible.description)
        case .array(let values): "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let values): "{" + values.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(json($0.value))" }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, everything else as UTF-8.
    static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// UTC with milliseconds: what log stores sort and parse without a format string.
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        let milliseconds = Int((date.timeIntervalSince1970 - Double(seconds)) * 1_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, milliseconds)
    }
}

/// Writes all of `text` to `descriptor`, retrying short and interrupted writes.
private func writeAll(_ descriptor: Int32, _ text: String) {
    text.utf8CString.withUnsafeBufferPointer { buffer in
        var offset = 0
        let count = buffer.count - 1  // without the terminating NUL
        while offset < count {
            let written = write(descriptor, buffer.baseAddress! + offset, count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// `--log-format`: JSON lines for machines (the default in the container images), text for terminals.
public enum LogFormat: String, CaseIterable, Sendable {
    case text, json

    /// Bootstraps swift-log for a process of `service` (`coordinator`, `agent`) at `level`; `fields` go on every line.
    public func bootstrap(service: String, level: Logger.Level, fields: Logger.Metadata = [:]) {
        switch self {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                handler.metadata = fields
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label, service: service)
                handler.logLevel = level
                handler.metadata = fields
                return handler
            }
        }
    }

    /// The format named by `--log-format`, else `$FARM_LOG_FORMAT`, else text.
    public static func resolve(_ option: String?) -> LogFormat? {
        LogFormat(rawValue: option ?? ProcessInfo.processInfo.environment["FARM_LOG_FORMAT"] ?? "text")
    }
}
