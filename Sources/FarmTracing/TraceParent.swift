import Foundation
import Instrumentation
import ServiceContextModule

/// A W3C trace context (`traceparent: 00-<trace id>-<span id>-<flags>`): how a trace crosses from the HTTP
/// client to the coordinator, and from the coordinator to an agent inside an `Assign`. Parsed strictly: it
/// comes from outside (a client's header, a message), and a bad one starts a new trace rather than failing.
public struct TraceParent: Sendable, Hashable, CustomStringConvertible {
    /// 32 lowercase hex digits, not all zero.
    public let traceID: String
    /// 16 lowercase hex digits, not all zero.
    public let spanID: String
    public let sampled: Bool

    public init?(_ header: String) {
        let parts = header.split(separator: "-", omittingEmptySubsequences: false)
        guard header.utf8.count == 55, parts.count == 4, parts[0] == "00",
              Self.isHex(parts[1], count: 32), Self.isHex(parts[2], count: 16), Self.isHex(parts[3], count: 2) else { return nil }
        self.init(traceID: String(parts[1]), spanID: String(parts[2]), sampled: (UInt8(parts[3], radix: 16) ?? 0) & 1 == 1)
    }

    init?(traceID: String, spanID: String, sampled: Bool) {
        guard traceID.contains(where: { $0 != "0" }), spanID.contains(where: { $0 != "0" }) else { return nil }
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
    }

    public var description: String { "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")" }

    static func isHex(_ text: Substring, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 1 ... .max, using: &generator)) }.joined()
    }
}

enum TraceParentKey: ServiceContextKey {
    typealias Value = TraceParent
    static let nameOverride: String? = "traceparent"
}

extension ServiceContext {
    /// The span this context is inside of, if it is traced.
    public var traceParent: TraceParent? {
        get { self[TraceParentKey.self] }
        set { self[TraceParentKey.self] = newValue }
    }
}
