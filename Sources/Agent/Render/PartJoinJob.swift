import FarmProtocol
import Foundation

/// Builds one part of an upload in parts (see `JoinPart`) on a thread of its
/// own: the sources are fetched one after the other (each checked against its
/// announced size) and the part is sent with its MD5, which the store checks.
/// Parts are at most `JoinPart.maxPartBytes`, held in memory once.
enum PartJoinJob {
    static func run(_ join: JoinPart) -> JoinedPart {
        do {
            guard let target = URL(string: join.target) else { throw ObjectUpload.Failure(description: "the target URL does not parse") }
            var part = Data(capacity: join.size)
            for (index, source) in join.sources.enumerated() {
                guard let url = URL(string: source.url) else {
                    throw ObjectUpload.Failure(description: "source \(index + 1)'s URL does not parse")
                }
                part.append(try ObjectUpload.get(url, size: source.size))
            }
            let md5 = try ObjectUpload.put(part, to: target)
            return JoinedPart(id: join.id, size: part.count, md5: md5)
        } catch {
            return JoinedPart(id: join.id, size: 0, md5: "", error: String(describing: error).prefix(2_000).description)
        }
    }
}
