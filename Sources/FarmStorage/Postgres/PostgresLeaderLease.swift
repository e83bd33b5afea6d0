import Logging
import PostgresNIO
import ServiceLifecycle

/// Leadership among coordinators that share one PostgreSQL database: the
/// leader holds a session-level advisory lock on a pooled connection; a
/// standby polls for the lock and takes over when the leader's session ends
/// (its process died, or its connection dropped).
///
/// A `Service` in the coordinator's group: `onLeader` runs once the lock is
/// held (the engine starts then); if the session is lost and another coordinator
/// holds the lock when it reconnects, `run()` throws `LeadershipLost`, which ends
/// the group (two leaders must never act together).
public struct PostgresLeaderLease: Service {
    /// Key of the advisory lock that marks the active coordinator.
    public static let lockKey: Int64 = 0x6D61_6E69_6D00_0002

    /// Another coordinator holds the lock this one had.
    public struct LeadershipLost: Error, CustomStringConvertible {
        public var description: String { "leadership lost to another coordinator" }
    }

    private let client: PostgresClient
    private let logger: Logger
    private let onLeader: @Sendable () -> Void

    public init(store: PostgresStore, logger: Logger, onLeader: @escaping @Sendable () -> Void) {
        client = store.client
        self.logger = logger
        self.onLeader = onLeader
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await hold() }
        } catch is CancellationError {
            // Shut down: the session ends with the client, and a standby takes over.
        }
    }

    private func hold() async throws {
        var leader = false
        logger.notice("waiting to become the active coordinator (PostgreSQL leader lock)")
        while true {
            do {
                try await client.withConnection { connection in
                    while try await !tryLock(connection) {
                        if leader { throw LeadershipLost() }
                        try await Task.sleep(for: .seconds(1))
                        try Self.check(connection)
                    }
                    if !leader {
                        leader = true
                        logger.notice("active coordinator")
                        onLeader()
                    }
                    // Hold the session; a closed connection or a failed query means it is gone.
                    while true {
                        try await Task.sleep(for: .seconds(1))
                        try Self.check(connection)
                        try await connection.query("SELECT 1", logger: logger)
                    }
                }
            } catch let error as LeadershipLost {
                logger.critical("leadership lost to another coordinator; stopping")
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("leader lock session lost; reconnecting", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// The server ended the session (a restart, `pg_terminate_backend`): its locks are gone.
    /// Checked before each query: a query sent on a connection PostgresNIO has already
    /// closed was seen to wait for ever instead of failing.
    private static func check(_ connection: PostgresConnection) throws {
        if connection.isClosed { throw SessionEnded() }
    }

    private struct SessionEnded: Error, CustomStringConvertible {
        var description: String { "the lock's database session ended" }
    }

    private func tryLock(_ connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey))", logger: logger)
        var got = false
        for try await value in rows.decode(Bool.self) { got = value }
        return got
    }
}
