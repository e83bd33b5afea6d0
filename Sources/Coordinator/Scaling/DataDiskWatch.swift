import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// The data folder's file system, free and total bytes (`farm_data_free_bytes`, `farm_data_size_bytes`), for the
/// alert that fires before publishing and the embedded store run out of room. `statfs` can block (a network
/// file system), so it runs on a thread of its own, every few seconds, never on the engine.
struct DataDiskWatch: Service {
    let folder: URL
    var interval: Duration = .seconds(15)
    let free = Gauge(label: "farm_data_free_bytes")
    let size = Gauge(label: "farm_data_size_bytes")
    let logger: Logger

    func run() async {
        let path = folder.path
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let (free, size) = try await offloaded { () throws -> (Int64, Int64) in
                        let space = try FileManager.default.attributesOfFileSystem(forPath: path)
                        return ((space[.systemFreeSize] as? NSNumber)?.int64Value ?? 0, (space[.systemSize] as? NSNumber)?.int64Value ?? 0)
                    }
                    self.free.record(free)
                    self.size.record(size)
                } catch {
                    logger.warning("could not read the data folder's file system", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
