import Foundation
import GatewayCore
import GatewayTestSupport
import Logging
import NIOCore
import NIOPosix
import Synchronization

@testable import RedisRateLimit

extension RedisTestServer {
    /// Sends one command over a fresh connection of the store's own client (for PTTL, SCRIPT FLUSH, EXISTS).
    func command(_ arguments: [String], database: Int = 0) async throws -> RESPValue {
        var redis = self.configuration()
        redis.database = database
        let pool = RedisConnectionPool(
            // The connect as generous as the reply: with the default 1 s, a parallel run once failed to connect.
            redis: redis, configuration: .init(connectionCount: 1, connectTimeout: .seconds(10)),
            group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let result: Result<RESPValue, any Error>
        do {
            result = .success(try await pool.send(RESPCommand(arguments), timeout: .seconds(10)))
        } catch {
            result = .failure(error)
        }
        await pool.shutdown()
        return try result.get()
    }

    /// The store's configuration for this server (a generous default timeout: a loaded machine is slow).
    func configuration(timeout: Duration = .seconds(10), password: String?? = .none) -> RedisStoreConfiguration {
        RedisStoreConfiguration(
            host: "127.0.0.1", port: self.port, database: 0, password: password ?? self.password, timeout: timeout
        )
    }
}

/// Log lines kept in memory, for assertions.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[(Logger.Level, String)]>([])

    func logger() -> Logger {
        var logger = Logger(label: "redis-test", factory: { _ in CapturingHandler(logs: self) })
        logger.logLevel = .debug
        return logger
    }

    func append(_ level: Logger.Level, _ message: String) {
        self.lines.withLock { $0.append((level, message)) }
    }

    func messages(atLeast level: Logger.Level) -> [String] {
        self.lines.withLock { lines in lines.filter { $0.0 >= level }.map(\.1) }
    }
}

struct CapturingHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let details = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        self.logs.append(event.level, "\(event.message) \(details)")
    }
}
