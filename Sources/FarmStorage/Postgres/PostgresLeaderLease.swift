import FarmModel
import Logging
import PostgresNIO

/// Leadership among coordinators that share one PostgreSQL database: the
/// leader holds a session-level advisory lock on a pooled connection; a
/// standby polls for the lock and takes over when the leader's session ends
/// (its process died, or its connection dropped).
public final class PostgresLeaderLease: Sendable {
    /// Key of the advisory lock that marks the active coordinator.
    public static let lockKey: Int64 = 0x6D61_6E69_6D00_0002

    private let client: PostgresClient
    private let logger: Logger

    public init(store: PostgresStore, logger: Logger) {
        client = store.client
        self.logger = logger
    }

    /// Returns once this process is the leader. Keeps the lock's session alive
    /// in the background; if that session is lost and another coordinator has
    /// taken the lock meanwhile, `onLost` is called: the caller must stop
    /// serving at once so two leaders never act together.
    public func acquire(onLost: @escaping @Sendable () -> Void) async {
        let (acquired, signal) = AsyncStream<Void>.makeStream()
        let client = self.client, logger = self.logger
        Task {
            var leader = false
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        while true {
                            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey))", logger: logger)
                            var got = false
                            for try await value in rows.decode(Bool.self) { got = value }
                            if got { break }
                            if leader {
                                logger.critical("leadership lost to another coordinator")
                                onLost()
                                return
                            }
                            try await Task.sleep(for: .seconds(1))
                        }
                        if !leader {
                            leader = true
                            signal.yield()
                        }
                        // Hold the session; a failed query means it is gone.
                        while true {
                            try await Task.sleep(for: .seconds(1))
                            try await connection.query("SELECT 1", logger: logger)
                        }
                    }
                    return
                } catch {
                    logger.warning("leader lock session lost; reconnecting", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
        for await _ in acquired { return }
    }
}
