import FarmModel
@testable import FarmTracing
import Foundation
import Hummingbird
import Logging
import Synchronization
import Testing

/// Traces across hosts: a coordinator and an agent export to a local OTLP/HTTP receiver (a small server in
/// this test that decodes the protocol's JSON), and one video's spans form one trace with the right parents:
/// the request that submitted it, each attempt sent to the agent, the agent's render of it, and assembly.
@Suite(.serialized) struct TracingTests {
    struct ReceivedSpan: Sendable {
        var service, traceID, spanID, name: String
        var parentSpanID: String?
        var start, end: UInt64
        var attributes: [String: String]
    }

    /// The collector side of OTLP/HTTP: `POST /v1/traces` with a JSON `ExportTraceServiceRequest`.
    final class Receiver: Sendable {
        let spans = Mutex<[ReceivedSpan]>([])

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.post("/v1/traces") { [self] request, context -> Response in
                var request = request
                let body = try await request.collectBody(upTo: 16 << 20)
                guard request.headers[.contentType] == "application/json",
                      let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
                    return Response(status: .badRequest)
                }
                self.spans.withLock { $0 += Self.decode(json) }
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
            }
            return router
        }

        static func decode(_ json: [String: Any]) -> [ReceivedSpan] {
            var found: [ReceivedSpan] = []
            for resource in json["resourceSpans"] as? [[String: Any]] ?? [] {
                let resourceAttributes = Self.attributes((resource["resource"] as? [String: Any])?["attributes"])
                for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                    for span in scope["spans"] as? [[String: Any]] ?? [] {
                        found.append(ReceivedSpan(
                            service: resourceAttributes["service.name"] ?? "", traceID: span["traceId"] as? String ?? "",
                            spanID: span["spanId"] as? String ?? "", name: span["name"] as? String ?? "",
                            parentSpanID: span["parentSpanId"] as? String,
                            start: UInt64(span["startTimeUnixNano"] as? String ?? "") ?? 0, end: UInt64(span["endTimeUnixNano"] as? String ?? "") ?? 0,
                            attributes: Self.attributes(span["attributes"])))
                    }
                }
            }
            return found
        }

        static func attributes(_ value: Any?) -> [String: String] {
            var attributes: [String: String] = [:]
            for item in value as? [[String: Any]] ?? [] {
                guard let key = item["key"] as? String, let value = item["value"] as? [String: Any], let first = value.first else { continue }
                attributes[key] = "\(first.value)"
            }
            return attributes
        }
    }

    @Test func aVideosSpansFormOneTraceFromTheRequestThroughTheAgentToAssembly() async throws {
        let receiver = Receiver()
        let port = Mutex<Int?>(nil)
        let app = Application(router: receiver.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
                              logger: Logger(label: "test.otlp"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            defer { group.cancelAll() }
            let deadline = ContinuousClock.now + .seconds(10)
            while port.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let endpoint = "http://127.0.0.1:\(try #require(port.withLock { $0 }))"

            let farm = try await FarmHarness(agents: [["--otlp-endpoint", endpoint]], coordinatorArguments: ["--otlp-endpoint", endpoint])
            let script = "from manim import *\n\nclass One(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()), run_time=0.5)\n\n"
                + "class Two(Scene):\n    def construct(self):\n        self.play(FadeIn(Square()), run_time=0.5)\n"
            let (code, body) = try await farm.submit(SubmitRequest(script: script, scriptName: "two.py", quality: .low))
            #expect(code == 201)
            let video = try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
            #expect(video.state == .done)

            // Spans arrive within a second or two of ending; wait for assembly's and the agent's renders.
            var spans: [ReceivedSpan] = []
            let arrived = ContinuousClock.now + .seconds(20)
            repeat {
                spans = receiver.spans.withLock { $0 }
                if spans.contains(where: { $0.name == "assemble" }), spans.filter({ $0.name.hasPrefix("agent render") }).count >= 2,
                   spans.filter({ $0.name.hasPrefix("render ") }).count >= 2 { break }
                try await Task.sleep(for: .milliseconds(100))
            } while ContinuousClock.now < arrived
            // Hummingbird names a request's span by its route, with the method as an attribute.
            let submit = try #require(spans.first { span in
                span.name == "/v1/videos" && span.service == "manimfarm-coordinator"
                    && (span.attributes["http.request.method"] ?? span.attributes["http.method"]) == "POST"
            }, "the request's span: \(spans.map { "\($0.name) \($0.attributes)" }.prefix(8))")
            let trace = spans.filter { $0.traceID == submit.traceID }
            let names = Set(trace.map(\.name))
            for name in ["plan", "agent plan", "render One", "render Two", "agent render One", "agent render Two", "assemble"] {
                #expect(names.contains(name), "\(name) in the video's trace: \(names.sorted())")
            }
            // Parents: the request → each attempt and assembly; each attempt → the agent's work on it.
            let byID = Dictionary(trace.map { ($0.spanID, $0) }, uniquingKeysWith: { first, _ in first })
            for span in trace where ["plan", "render One", "render Two", "assemble"].contains(span.name) {
                #expect(span.parentSpanID == submit.spanID, "\(span.name)'s parent is the request")
                #expect(span.service == "manimfarm-coordinator" && span.attributes["farm.video"] == video.id)
            }
            for span in trace where span.name.hasPrefix("agent ") {
                let parent = span.parentSpanID.flatMap { byID[$0] }
                #expect(parent?.name == String(span.name.dropFirst("agent ".count)), "\(span.name)'s parent is the coordinator's span: \(parent?.name ?? "none")")
                #expect(span.service == "manimfarm-agent" && span.attributes["farm.task"] == parent?.attributes["farm.task"])
                if let parent { #expect(parent.start <= span.start && span.end <= parent.end + 1_000_000_000, "nested in time") }
            }
            #expect(trace.allSatisfy { $0.end >= $0.start && $0.start > 0 })
        }
    }

    @Test func aMalformedTraceParentStartsNoTraceAndAValidOneRoundTrips() {
        #expect(TraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")?.description
                == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        for bad in ["", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    "00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
                    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", String(repeating: "0", count: 100)] {
            #expect(TraceParent(bad) == nil, "\(bad)")
        }
    }
}
