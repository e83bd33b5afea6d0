import Foundation
import Logging
import ServiceLifecycle

/// Applies every team's retention policy once at start and then every `interval`: outputs and
/// logs of videos finished longer ago than the team keeps them are deleted.
struct RetentionService: Service {
    let personalData: PersonalData
    var interval: Duration = .seconds(3_600)
    let logger: Logger

    func run() async {
        // Ends by returning, never by throwing: a service that throws makes its group cancel the
        // others instead of shutting them down gracefully.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    for team in try await personalData.store.teams() where team.retentionDays != nil {
                        _ = try await personalData.expire(team, dryRun: false)
                    }
                } catch {
                    logger.warning("retention could not run; trying again next round", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
