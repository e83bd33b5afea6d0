import FarmModel
import FarmStorage
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Counts the operators' and admins' API keys that end within a week (`farm_privileged_keys_expiring`),
/// so an alert warns before the automation that uses one stops. Reads the store every few minutes:
/// key expiries move in days, and the store is not asked more often than that.
struct KeyExpiryWatch: Service {
    let store: any AccountStore
    var interval: Duration = .seconds(300)
    static let window: TimeInterval = 7 * 86_400
    let gauge = Gauge(label: "farm_privileged_keys_expiring")
    let logger: Logger

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    gauge.record(try await Self.expiringPrivilegedKeys(store, now: Date()))
                } catch {
                    logger.warning("could not read API keys' expiry", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    static func expiringPrivilegedKeys(_ store: any AccountStore, now: Date) async throws -> Int {
        var count = 0
        for user in try await store.users(teamID: nil) where user.role >= .operator && user.erasedAt == nil {
            count += try await store.keys(userID: user.id).count { key in
                guard key.revokedAt == nil, let expires = key.expiresAt else { return false }
                return expires > now && expires.timeIntervalSince(now) <= window
            }
        }
        return count
    }
}
