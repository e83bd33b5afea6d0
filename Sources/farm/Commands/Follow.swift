import ArgumentParser
import FarmModel
import Foundation

/// Follows a video until it is final, drawing progress as it goes: from its event stream (the coordinator
/// sends each change), resuming where it left off when the stream ends or drops, and by polling when the
/// coordinator has no event stream (an older one).
struct Follow {
    let client: FarmClient
    let json: Bool

    func follow(_ id: String) async throws -> VideoStatus {
        let display = ProgressDisplay(enabled: !json)
        var failures = 0
        var lastEventID: String?
        var streams = true
        while true {
            do {
                if streams {
                    for try await event in client.events(id, lastEventID: lastEventID) {
                        failures = 0
                        lastEventID = event.id
                        display.show(event.status)
                        if event.status.state.isFinal { return event.status }
                    }
                    // The stream ended without the video's end (it lasts an hour at most; a busy coordinator
                    // turns it away): resume it shortly.
                    let status = try await client.status(id)
                    if status.state.isFinal {
                        display.show(status)
                        return status
                    }
                    try await Task.sleep(for: .milliseconds(500))
                    continue
                }
                let status = try await client.status(id)
                failures = 0
                display.show(status)
                if status.state.isFinal { return status }
                try await Task.sleep(for: .milliseconds(500))
            } catch FarmClient.ClientError.refused(let code, _) where streams && code == 404 {
                // No event stream, or no such video: polling says which.
                if !json { printError("following by polling: the coordinator sends no events for this video") }
                streams = false
            } catch let error as FarmClient.ClientError {
                // Ride out a coordinator restart; give up after a minute.
                failures += 1
                if failures > 120 {
                    printError(error.description)
                    throw error.exitCode
                }
                try await Task.sleep(for: .milliseconds(500))
            }
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
