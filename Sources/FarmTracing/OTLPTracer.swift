import Foundation
import Instrumentation
import ServiceContextModule
import Synchronization
import Tracing

/// A swift-distributed-tracing `Tracer` that sends finished spans to an OpenTelemetry collector over
/// OTLP/HTTP with JSON bodies (`POST <endpoint>/v1/traces`), the protocol every collector speaks.
/// (swift-otel does the same and more; it would add about seven minutes to every clean build here, for
/// an exporter of spans that is a few hundred lines.) Off unless `--otlp-endpoint` is given.
public final class OTLPTracer: Tracer, Sendable {
    public typealias Span = OTLPSpan
    let exporter: OTLPExporter

    public init(endpoint: URL, service: String, attributes: [String: String] = [:]) {
        exporter = OTLPExporter(endpoint: endpoint, service: service, resource: attributes)
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> OTLPSpan {
        var context = context()
        let parent = context.traceParent
        let own = TraceParent(traceID: parent?.traceID ?? TraceParent.randomHex(bytes: 16),
                              spanID: TraceParent.randomHex(bytes: 8), sampled: true)!
        context.traceParent = own
        return OTLPSpan(name: operationName, kind: kind, context: context, parentSpanID: parent?.spanID,
                        start: instant().nanosecondsSinceEpoch, exporter: exporter)
    }

    public func activeSpan(identifiedBy context: ServiceContext) -> OTLPSpan? { nil }

    public func forceFlush() { exporter.flushSoon() }

    /// Waits until every span ended so far has been sent (or dropped after its retries).
    public func flush() async { await exporter.flush() }

    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        if let header = extractor.extract(key: "traceparent", from: carrier), let parent = TraceParent(header) {
            context.traceParent = parent
        }
    }

    public func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        if let parent = context.traceParent { injector.inject(parent.description, forKey: "traceparent", into: &carrier) }
    }
}

/// One span; its state is behind a lock, as spans are ended and annotated from any task.
public final class OTLPSpan: Tracing.Span, Sendable {
    public let context: ServiceContext
    let kind: SpanKind
    let parentSpanID: String?
    let start: UInt64
    let exporter: OTLPExporter
    private let state: Mutex<State>

    struct State {
        var name: String
        var attributes = SpanAttributes()
        var status: SpanStatus?
        var events: [SpanEvent] = []
        var ended = false
    }

    init(name: String, kind: SpanKind, context: ServiceContext, parentSpanID: String?, start: UInt64, exporter: OTLPExporter) {
        self.context = context
        self.kind = kind
        self.parentSpanID = parentSpanID
        self.start = start
        self.exporter = exporter
        state = Mutex(State(name: name))
    }

    public var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    public var isRecording: Bool { state.withLock { !$0.ended } }

    public func setStatus(_ status: SpanStatus) { state.withLock { $0.status = status } }

    public func addEvent(_ event: SpanEvent) { state.withLock { $0.events.append(event) } }

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        var event = SpanEvent(name: "exception", at: instant())
        event.attributes["exception.message"] = "\(error)"
        addEvent(event)
    }

    public func addLink(_ link: SpanLink) {}

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let finished: State? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let finished, let own = context.traceParent else { return }
        exporter.add(OTLPExporter.Record(
            traceID: own.traceID, spanID: own.spanID, parentSpanID: parentSpanID, name: finished.name, kind: kind,
            start: start, end: instant().nanosecondsSinceEpoch, attributes: finished.attributes, status: finished.status,
            events: finished.events))
    }
}
