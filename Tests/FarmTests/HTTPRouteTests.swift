@testable import Coordinator
import FarmModel
import FarmStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The HTTP API's routes in process (Hummingbird's router test client), over a real engine and SQLite store.
@Suite struct HTTPRouteTests {
    static let script = APIFixture.script

    @Test func aVideoIsSubmittedFollowedAndCancelled() async throws {
        try await APIFixture.with { client, farm in
            let key = farm.adminKey
            let submitted = try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: Self.script, scriptName: "hello.py"))
            #expect(submitted.status == .created)
            let status = try submitted.decode(VideoStatus.self)
            #expect(submitted.headers[.location] == "/v1/videos/\(status.id)")
            #expect(status.state == .queued)
            #expect(status.plan?.name == "Hello")
            #expect(status.submitter == "admin", "the submitter is the key's user")
            let id = status.id
            let followed = try await client.call(.get, "/v1/videos/\(id)", key: key)
            #expect(followed.status == .ok)
            #expect(try followed.decode(VideoStatus.self).id == id)
            let cancelled = try await client.call(.delete, "/v1/videos/\(id)", key: key)
            #expect(cancelled.status == .ok)
            #expect(try cancelled.decode(VideoStatus.self).state == .cancelled)
            let listed = try await client.call(.get, "/v1/videos?limit=5", key: key)
            let page = try listed.decode(VideoPage.self)
            #expect(page.videos.map(\.id) == [id])
            #expect(page.videos.first?.state == .cancelled)
            #expect(page.next == nil)
            #expect(!listed.text.contains("FadeIn"), "listings never carry scripts")
        }
    }

    /// The farm's text-to-speech service: a WAV from espeak-ng, spoken once and kept; bad input gets clear statuses.
    @Test func speechIsSpokenOnceAndKept() async throws {
        try await APIFixture.with { client, farm in
            let key = farm.adminKey
            let first = try await client.call(.post, "/v1/speech", key: key, body: SpeechRequest(text: "Hello from the farm.", voice: "en"))
            try #require(first.status == .ok, "\(first.text)")
            #expect(first.headers[.contentType] == "audio/wav" && first.headers[.init("X-Farm-Speech-Cache")!] == "miss")
            let wav = Data(buffer: first.body)
            #expect(wav.prefix(4) == Data("RIFF".utf8) && wav.count > 10_000, "about a second of speech: \(wav.count) bytes")
            // The same words, spaced otherwise: the kept file, byte for byte.
            let again = try await client.call(.post, "/v1/speech", key: key, body: SpeechRequest(text: " Hello   from the\nfarm. "))
            #expect(again.status == .ok && again.headers[.init("X-Farm-Speech-Cache")!] == "hit" && Data(buffer: again.body) == wav)
            let other = try await client.call(.post, "/v1/speech", key: key, body: SpeechRequest(text: "Hello from the farm.", voice: "de"))
            #expect(other.status == .ok && other.headers[.init("X-Farm-Speech-Cache")!] == "miss", "another voice is another file")

            #expect(try await client.call(.post, "/v1/speech", key: key, body: SpeechRequest(text: "  ")).status == .unprocessableContent)
            let long = try await client.call(.post, "/v1/speech", key: key, body: SpeechRequest(text: String(repeating: "a", count: 10_001)))
            #expect(long.status == .unprocessableContent && long.text.contains("10000"), "\(long.text)")
            let option = try await client.call(.post, "/v1/speech", key: key, body: SpeechRequest(text: "hi", voice: "--path=/etc"))
            #expect(option.status == .unprocessableContent, "a voice is never an option")
            // Text that looks like options is only spoken.
            let dashes = try await client.call(.post, "/v1/speech", key: key, body: SpeechRequest(text: "-w /etc/passwd --stdout"))
            #expect(dashes.status == .ok && Data(buffer: dashes.body).prefix(4) == Data("RIFF".utf8))
            #expect(try await client.call(.post, "/v1/speech", key: nil, body: SpeechRequest(text: "hi")).status == .unauthorized)
        }
    }

    /// A video's status as Server-Sent Events: an event per change until it is final, resumable with Last-Event-ID.
    @Test func videoEventsStreamTheStatusUntilTheVideoEnds() async throws {
        try await APIFixture.with { client, farm in
            let key = farm.adminKey
            let submitted = try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: Self.script))
            let id = try submitted.decode(VideoStatus.self).id
            func statuses(_ text: String) throws -> [(id: String, state: VideoState)] {
                try text.components(separatedBy: "\n\n").filter { $0.contains("event: status") }.map { event in
                    let lines = event.split(separator: "\n")
                    let data = try #require(lines.first { $0.hasPrefix("data: ") }?.dropFirst(6))
                    let eventID = try #require(lines.first { $0.hasPrefix("id: ") }?.dropFirst(4))
                    return (String(eventID), try JSONDecoder.farm.decode(VideoStatus.self, from: Data(data.utf8)).state)
                }
            }
            // A snapshot: the queued status, then the stream ends.
            let once = try await client.call(.get, "/v1/videos/\(id)/events?once=true", key: key)
            #expect(once.status == .ok && once.headers[.contentType] == "text/event-stream")
            let first = try statuses(once.text)
            try #require(first.map(\.state) == [.queued], "\(once.text)")

            // Live from there: nothing while the video waits, then its end, and the stream closes.
            var headers = APIFixture.headers(key, json: false)
            headers[.init("Last-Event-ID")!] = first[0].id
            let liveHeaders = headers
            async let live = client.execute(uri: "/v1/videos/\(id)/events", method: .get, headers: liveHeaders)
            let deadline = ContinuousClock.now + .seconds(10)
            while farm.api.eventStreams.openStreams == 0, ContinuousClock.now < deadline { await Task.yield() }
            #expect(farm.api.eventStreams.openStreams == 1, "the live stream is open")
            #expect(try await client.call(.delete, "/v1/videos/\(id)", key: key).status == .ok)
            let ended = try statuses(try await live.text)
            #expect(ended.map(\.state) == [.cancelled], "only the change is sent: \(ended)")
            #expect(ended.first?.id != first[0].id)

            // Resumed with the last id: nothing changed since, so no event, and the final video ends the stream.
            headers[.init("Last-Event-ID")!] = ended.last?.id
            let resumed = try await client.execute(uri: "/v1/videos/\(id)/events", method: .get, headers: headers)
            #expect(resumed.status == .ok && !resumed.text.contains("event: status"), "\(resumed.text)")
            #expect(farm.api.eventStreams.openStreams == 0, "every stream gave its place back")
            #expect(try await client.call(.get, "/v1/videos/vmissing/events", key: key).status == .notFound)
        }
    }

    @Test func badRequestsGetClearStatuses() async throws {
        try await APIFixture.with(maxScriptBytes: 4_096) { client, farm in
            let key = farm.adminKey
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            let notJSON = try await client.execute(uri: "/v1/videos", method: .post, headers: APIFixture.headers(key, json: true),
                                                   body: ByteBuffer(string: "{not json"))
            #expect(notJSON.status == .badRequest)
            #expect(notJSON.text.contains("not a valid submission"))
            let syntax = try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: "class Broken(Scene:\n"))
            #expect(syntax.status == .unprocessableContent)
            #expect(syntax.text.contains("syntax error"))
            let large = try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: String(repeating: "#", count: 5_000)))
            #expect(large.status == .contentTooLarge)
            let ladder = try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: Self.script, ladder: [1_081]))
            #expect(ladder.status == .unprocessableContent)
            #expect(try await client.call(.get, "/v1/videos/vmissing", key: key).status == .notFound)
            #expect(try await client.call(.delete, "/v1/videos/vmissing", key: key).status == .notFound)
            #expect(try await client.call(.get, "/v1/videos/vmissing/..%2F..%2Ffarm.sqlite", key: key).status == .notFound)
            #expect(try await client.call(.get, "/v1/videos/vmissing/.hidden", key: key).status == .notFound)
            let stats = try await client.call(.get, "/v1/stats", key: key)
            #expect(stats.status == .ok)
            #expect(try stats.decode(FarmStats.self).activeVideos == 0)
        }
    }
}

extension JSONDecoder {
    /// Decodes the API's JSON (dates as Hummingbird encodes them).
    static var farm: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
