import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOPosix
@testable import RedisRateLimit
import Synchronization

/// A private `redis-server` on a free loopback port, started and killed by the test (never the system one).
final class RedisServerProcess: Sendable {
    let port: Int
    let password: String?
    let extraArguments: [String]
    private let process: Mutex<Process?>

    /// Starts a server on a free port (or on `port`), no persistence, and waits until it answers PING.
    init(port: Int? = nil, password: String? = nil, extraArguments: [String] = []) async throws {
        self.port = try port ?? Self.freePort()
        self.password = password
        self.extraArguments = extraArguments
        self.process = Mutex(nil)
        try await self.start()
    }

    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        var arguments = [
            "--port", String(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--loglevel", "warning",
        ]
        if let password { arguments += ["--requirepass", password] }
        arguments += self.extraArguments
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process.withLock { $0 = process }
        try await self.waitUntilReady()
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    func kill() {
        let process = self.process.withLock { state -> Process? in
            defer { state = nil }
            return state
        }
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: its sockets stay open but nothing answers.
    func signal(_ number: Int32) {
        if let process = self.process.withLock({ $0 }) {
            Foundation.kill(process.processIdentifier, number)
        }
    }

    func stop() {
        self.kill()
    }

    /// Sends one command over a fresh connection (for PTTL, SCRIPT FLUSH, PING).
    func command(_ arguments: [String], database: Int = 0) async throws -> RESPValue {
        var redis = self.configuration()
        redis.database = database
        let pool = RedisConnectionPool(
            redis: redis, configuration: .init(connectionCount: 1),
            group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let result: Result<RESPValue, any Error>
        do {
            result = .success(try await pool.send(RESPCommand(arguments), timeout: .seconds(2)))
        } catch {
            result = .failure(error)
        }
        await pool.shutdown()
        return try result.get()
    }

    func configuration(timeout: Duration = .seconds(2), password: String?? = .none) -> RedisStoreConfiguration {
        RedisStoreConfiguration(
            host: "127.0.0.1", port: self.port, database: 0, password: password ?? self.password, timeout: timeout
        )
    }

    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if case .simpleString("PONG")? = try? await self.command(["PING"]) { return }
            if self.password != nil, case .error? = try? await self.command(["PING"]) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RedisClientError(.unavailable, "redis-server did not start")
    }

    /// A port nobody listens on: bind port 0, read it back, close.
    static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress!.port!
        try channel.close().wait()
        return port
    }

    deinit {
        if let process = self.process.withLock({ $0 }) {
            Foundation.kill(process.processIdentifier, SIGKILL)
        }
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
