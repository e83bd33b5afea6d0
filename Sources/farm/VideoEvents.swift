import FarmModel
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Follows `GET /v1/videos/{id}/events` (Server-Sent Events): each `status` event
/// as it arrives, with its id for resuming. Foundation on Linux has no streaming
/// `bytes(for:)`, so a data task's delegate feeds the bytes in.
extension FarmClient {
    struct StatusEvent: Sendable {
        var id: String?
        var status: VideoStatus
    }

    /// The video's status events from `lastEventID` on, until the server ends the stream.
    /// - Throws: `ClientError.refused` when the server has no such stream (an older coordinator: 404).
    func events(_ videoID: String, lastEventID: String?) -> AsyncThrowingStream<StatusEvent, any Error> {
        AsyncThrowingStream { continuation in
            var request = URLRequest(url: url("/v1/videos/\(videoID)/events"))
            request.timeoutInterval = 60  // the server sends at least a keep-alive every 15 s
            request.setValue("text/event-stream", forHTTPHeaderField: "Accept")
            if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
            if let lastEventID { request.setValue(lastEventID, forHTTPHeaderField: "Last-Event-ID") }
            let reader = EventStreamReader(continuation: continuation)
            let session = URLSession(configuration: .default, delegate: reader, delegateQueue: nil)
            let task = session.dataTask(with: request)
            continuation.onTermination = { _ in
                task.cancel()
                session.invalidateAndCancel()
            }
            task.resume()
        }
    }
}

/// Cuts the bytes of an event stream into events (blank-line separated; `id:` and `data:` fields).
private final class EventStreamReader: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // Touched only on the session's serial delegate queue.
    private let continuation: AsyncThrowingStream<FarmClient.StatusEvent, any Error>.Continuation
    private var buffer = Data()
    private var refused = false
    private let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
    /// An event larger than this is not one the coordinator sends.
    private static let maxEventBytes = 8 << 20

    init(continuation: AsyncThrowingStream<FarmClient.StatusEvent, any Error>.Continuation) {
        self.continuation = continuation
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            refused = true
            continuation.finish(throwing: FarmClient.ClientError.refused(status: status, message: "no event stream (HTTP \(status))"))
            return completionHandler(.cancel)
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        buffer.append(data)
        while let end = buffer.range(of: Data("\n\n".utf8)) {
            let event = buffer.subdata(in: buffer.startIndex..<end.lowerBound)
            buffer.removeSubrange(buffer.startIndex..<end.upperBound)
            deliver(String(decoding: event, as: UTF8.self))
        }
        if buffer.count > Self.maxEventBytes {
            continuation.finish(throwing: FarmClient.ClientError.unreachable("an event of more than \(Self.maxEventBytes) bytes"))
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        guard !refused else { return }
        if let error, (error as? URLError)?.code != .cancelled {
            continuation.finish(throwing: FarmClient.ClientError.unreachable(error.localizedDescription))
        } else {
            continuation.finish()
        }
        session.finishTasksAndInvalidate()
    }

    private func deliver(_ event: String) {
        var name = "message", id: String?, data = ""
        for line in event.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(":") { continue }  // a comment: the keep-alive
            let (field, value) = line.firstIndex(of: ":").map { (line[..<$0], line[line.index(after: $0)...].drop { $0 == " " }) }
                ?? (line[...], ""[...])
            switch field {
            case "event": name = String(value)
            case "id": id = String(value)
            case "data": data += data.isEmpty ? String(value) : "\n" + value
            default: break
            }
        }
        guard name == "status", let status = try? decoder.decode(VideoStatus.self, from: Data(data.utf8)) else { return }
        continuation.yield(FarmClient.StatusEvent(id: id, status: status))
    }
}
