import ArgumentParser
import FarmModel
import Foundation

/// Follows a video until it is final, drawing progress as it goes, by asking for its status twice a second.
///
/// Not from its event stream: swift-corelibs-foundation's URLSession spins on a streaming response that sits
/// idle between events (libcurl's socket stays armed for writing, which an idle socket always is), which cost
/// `farm submit --wait` 31 CPU seconds over a 50-second render on two cores, stolen from the agents beside it.
/// A status request costs a few milliseconds.
struct Follow {
    let client: FarmClient
    let json: Bool
    static let interval = Duration.milliseconds(500)

    func follow(_ id: String) async throws -> VideoStatus {
        let display = ProgressDisplay(enabled: !json)
        return try await Self.poll({ try await client.status(id) }) { status in
            display.show(status)
            return status.state.isFinal
        }
    }

    /// Reads `read` twice a second, handing each answer to `seen`, until `seen` says it is the last. Rides out a
    /// coordinator restart or a busy one and gives up after a minute; any other refusal (no such video or job, no
    /// access) does not get better by waiting.
    static func poll<T>(_ read: () async throws -> T, until seen: (T) throws -> Bool) async throws -> T {
        var failures = 0
        while true {
            do {
                let answer = try await read()
                failures = 0
                if try seen(answer) { return answer }
            } catch let error as FarmClient.ClientError {
                if case .refused(let code, _) = error, code < 500, code != 429 {
                    printError(error.description)
                    throw error.exitCode
                }
                failures += 1
                if failures > 120 {
                    printError(error.description)
                    throw error.exitCode
                }
            }
            try await Task.sleep(for: interval)
        }
    }

    /// Prints the outcome and exits with the matching code.
    static func report(_ status: VideoStatus, client: FarmClient, json: Bool) throws {
        let stills = status.scenes.compactMap { scene in scene.still.map { (scene.name, $0) } }
        if json {
            try printJSON(status)
        } else if status.state == .done, status.outputs != nil || !stills.isEmpty {
            if let outputs = status.outputs {
                print("master playlist: \(outputs.masterPath)")
                // An object store's CDN URL is absolute; the coordinator's own is a path.
                print("                 \(outputs.master.hasPrefix("http") ? outputs.master : client.url(outputs.master).absoluteString)")
                print("mp4:             \(outputs.mp4Path)")
            }
            print("web page:        \(client.url("/videos/\(status.id)").absoluteString)")
            for (scene, url) in stills {
                print("still \(scene): \(url.hasPrefix("http") ? url : client.url(url).absoluteString)")
            }
        } else {
            printError("video \(status.id) \(status.state.rawValue): \(status.error ?? "")")
            for scene in (status.plan.map { [$0] } ?? []) + status.scenes where scene.error != nil {
                printError("scene \(scene.name): \(scene.error!.failureClass.rawValue): \(scene.error!.message)")
                if !scene.error!.logTail.isEmpty {
                    FileHandle.standardError.write(Data((scene.error!.logTail.split(separator: "\n").suffix(15)
                        .joined(separator: "\n") + "\n").utf8))
                }
            }
        }
        if status.state != .done { throw FarmExit.videoFailed }
    }
}
