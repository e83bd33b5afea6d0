import Foundation
import Instrumentation

/// `--otlp-endpoint`: where finished spans go (an OpenTelemetry collector's OTLP/HTTP address, e.g.
/// `http://127.0.0.1:4318`); default `$OTEL_EXPORTER_OTLP_ENDPOINT`; traces are off without one.
public enum TraceExport {
    /// Bootstraps the process's tracer; the tracer to flush at exit, or `nil` when traces are off.
    public static func bootstrap(endpoint option: String?, service: String, attributes: [String: String] = [:]) throws -> OTLPTracer? {
        guard let text = option ?? ProcessInfo.processInfo.environment["OTEL_EXPORTER_OTLP_ENDPOINT"], !text.isEmpty else { return nil }
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw TracingError("--otlp-endpoint takes an http(s) URL, got \(text)")
        }
        let tracer = OTLPTracer(endpoint: url, service: service, attributes: attributes)
        InstrumentationSystem.bootstrap(tracer)
        return tracer
    }
}

public struct TracingError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
