import Foundation
import Synchronization
import Tracing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Sends finished spans in batches to `<endpoint>/v1/traces` (OTLP/HTTP, JSON encoding), at most a second
/// after they end. What it holds is bounded: past `capacity` waiting spans the oldest are dropped and
/// counted, so a collector that is down costs memory it gives back, never the process.
final class OTLPExporter: Sendable {
    struct Record: Sendable {
        var traceID, spanID: String
        var parentSpanID: String?
        var name: String
        var kind: SpanKind
        var start, end: UInt64
        var attributes: SpanAttributes
        var status: SpanStatus?
        var events: [SpanEvent]
    }

    static let capacity = 4_096
    static let batch = 512
    let url: URL
    let service: String
    let resource: [String: String]
    private let state = Mutex<(waiting: [Record], dropped: Int, sending: Bool)>(([], 0, false))
    private let session: URLSession

    init(endpoint: URL, service: String, resource: [String: String]) {
        url = endpoint.appendingPathComponent("v1/traces")
        self.service = service
        self.resource = resource
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        session = URLSession(configuration: configuration)
    }

    func add(_ record: Record) {
        let start = state.withLock { state -> Bool in
            if state.waiting.count >= Self.capacity {
                state.waiting.removeFirst()
                state.dropped += 1
            }
            state.waiting.append(record)
            guard !state.sending else { return false }
            state.sending = true
            return true
        }
        // One sender at a time: it waits a moment for more spans, sends, and stops when nothing waits.
        if start { Task.detached { [self] in await self.sendLoop(delay: .seconds(1)) } }
    }

    func flushSoon() {
        let start = state.withLock { state -> Bool in
            guard !state.sending, !state.waiting.isEmpty else { return false }
            state.sending = true
            return true
        }
        if start { Task.detached { [self] in await self.sendLoop(delay: .zero) } }
    }

    /// Sends what waits now and returns when it is sent (or given up).
    func flush() async {
        while true {
            let batch = state.withLock { state -> [Record] in
                let batch = Array(state.waiting.prefix(Self.batch))
                state.waiting.removeFirst(batch.count)
                return batch
            }
            if batch.isEmpty { return }
            await send(batch)
        }
    }

    private func sendLoop(delay: Duration) async {
        try? await Task.sleep(for: delay)
        while true {
            let batch = state.withLock { state -> [Record] in
                let batch = Array(state.waiting.prefix(Self.batch))
                state.waiting.removeFirst(batch.count)
                if batch.isEmpty { state.sending = false }
                return batch
            }
            if batch.isEmpty { return }
            await send(batch)
        }
    }

    /// Three tries with a pause between; a collector that refuses or is away loses this batch, not the next.
    private func send(_ records: [Record]) async {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body(records).utf8)
        for attempt in 1...3 {
            if let (_, response) = try? await session.data(for: request), let http = response as? HTTPURLResponse,
               (200..<300).contains(http.statusCode) {
                return
            }
            try? await Task.sleep(for: .milliseconds(200 * attempt))
        }
        state.withLock { $0.dropped += records.count }
    }

    var dropped: Int { state.withLock { $0.dropped } }

    /// The OTLP JSON of `records`: ids as hex strings and times as decimal strings, as the protocol's JSON mapping says.
    func body(_ records: [Record]) -> String {
        let resourceAttributes = [("service.name", service)] + resource.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let spans = records.map { record -> String in
            var span = "{\"traceId\":\"\(record.traceID)\",\"spanId\":\"\(record.spanID)\""
            if let parent = record.parentSpanID { span += ",\"parentSpanId\":\"\(parent)\"" }
            span += ",\"name\":\(Self.quoted(record.name)),\"kind\":\(Self.kind(record.kind))"
            span += ",\"startTimeUnixNano\":\"\(record.start)\",\"endTimeUnixNano\":\"\(max(record.start, record.end))\""
            span += ",\"attributes\":\(Self.attributes(record.attributes))"
            if !record.events.isEmpty {
                span += ",\"events\":[" + record.events.map { event in
                    "{\"timeUnixNano\":\"\(event.nanosecondsSinceEpoch)\",\"name\":\(Self.quoted(event.name)),\"attributes\":\(Self.attributes(event.attributes))}"
                }.joined(separator: ",") + "]"
            }
            if let status = record.status {
                span += ",\"status\":{\"code\":\(status.code == .ok ? 1 : 2)" + (status.message.map { ",\"message\":\(Self.quoted($0))" } ?? "") + "}"
            }
            return span + "}"
        }
        let resourceJSON = resourceAttributes.map { "{\"key\":\(Self.quoted($0.0)),\"value\":{\"stringValue\":\(Self.quoted($0.1))}}" }.joined(separator: ",")
        return "{\"resourceSpans\":[{\"resource\":{\"attributes\":[\(resourceJSON)]},\"scopeSpans\":[{\"scope\":{\"name\":\"manimfarm\"},\"spans\":["
            + spans.joined(separator: ",") + "]}]}]}"
    }

    static func kind(_ kind: SpanKind) -> Int {
        switch kind {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }

    static func attributes(_ attributes: SpanAttributes) -> String {
        var items: [String] = []
        attributes.forEach { key, attribute in
            let value: String
            switch attribute {
            case .int32(let number): value = "{\"intValue\":\"\(number)\"}"
            case .int64(let number): value = "{\"intValue\":\"\(number)\"}"
            case .double(let number) where number.isFinite: value = "{\"doubleValue\":\(number)}"
            case .bool(let flag): value = "{\"boolValue\":\(flag)}"
            case .string(let text): value = "{\"stringValue\":\(quoted(text))}"
            default: value = "{\"stringValue\":\(quoted("\(attribute)"))}"
            }
            items.append("{\"key\":\(quoted(key)),\"value\":\(value)}")
        }
        return "[" + items.sorted().joined(separator: ",") + "]"
    }

    static func quoted(_ text: String) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: [text]), let array = String(data: data, encoding: .utf8) else { return "\"\"" }
        return String(array.dropFirst().dropLast())
    }
}
