import GatewayCore
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A few pipelined connections to one Redis server, each reconnected on demand with exponential backoff.
///
/// Each slot is a small state machine: `idle` (never connected, or closed, or failed and backing off until
/// `notBefore`) → `connecting` (TCP, then `AUTH` and `SELECT`) → `connected` → back to `idle` when the connection
/// closes (at once, with no backoff, after a connection that worked). Commands pick slots round-robin; a slot in
/// backoff lends its turn to a connected one, and when every slot is backing off a command fails at once with
/// ``RedisClientError/Code/unavailable`` instead of waiting.
///
/// The state is decided under a lock and the I/O is done after it.
final class RedisConnectionPool: Sendable {
    /// Pool sizing and reconnect timing.
    struct Configuration: Sendable {
        /// Connections kept open. Pipelining makes a few enough.
        var connectionCount = 2
        /// Bound on TCP connect plus `AUTH`/`SELECT`.
        var connectTimeout: Duration = .seconds(1)
        /// First reconnect delay after a failed connect; doubled per further failure up to `backoffMax`
        /// (`Backoff.cap`, without jitter). With the defaults: 50 ms, 100 ms, 200 ms, 400 ms, 800 ms, 1.6 s, then 2 s.
        var backoffBase: Duration = .milliseconds(50)
        var backoffMax: Duration = .seconds(2)
    }

    private enum Slot {
        case idle(failures: Int, notBefore: ContinuousClock.Instant)
        case connecting(EventLoopFuture<any Channel>, failures: Int)
        case connected(any Channel)
    }

    private struct State {
        var slots: [Slot]
        var next = 0
        var isShutDown = false
    }

    private enum Action {
        case use(any Channel)
        case wait(EventLoopFuture<any Channel>)
        case connect(slot: Int, promise: EventLoopPromise<any Channel>, failures: Int)
        case fail(RedisClientError)
    }

    private let state: Mutex<State>
    private let group: any EventLoopGroup
    private let redis: RedisStoreConfiguration
    private let configuration: Configuration
    private let logger: Logger

    init(redis: RedisStoreConfiguration, configuration: Configuration, group: any EventLoopGroup, logger: Logger) {
        self.redis = redis
        self.configuration = configuration
        self.group = group
        self.logger = logger
        let slots = [Slot](
            repeating: .idle(failures: 0, notBefore: .now),
            count: max(1, configuration.connectionCount)
        )
        self.state = Mutex(State(slots: slots))
    }

    /// Sends one command and waits for its reply, for at most `timeout` (getting a connection included).
    func send(_ command: RESPCommand, timeout: Duration) async throws -> RESPValue {
        let timeout = TimeAmount(timeout)  // NIO's timers take their own type
        let channel = self.channel()
        let loop = channel.eventLoop
        let result = loop.makePromise(of: RESPValue.self)
        let timer = loop.scheduleTask(in: timeout) {
            result.fail(RedisClientError(.timedOut, "no reply within the timeout"))
            channel.whenSuccess { channel in
                channel.triggerUserOutboundEvent(RedisCommandHandler.StallCheck(silence: timeout), promise: nil)
            }
        }
        channel.flatMap { Self.send(command, on: $0) }.cascade(to: result)
        result.futureResult.whenComplete { _ in timer.cancel() }
        return try await result.futureResult.get()
    }

    /// Opens every idle slot's connection now (used when the store starts, so the first requests find them).
    func warmUp() {
        for _ in 0..<self.configuration.connectionCount {
            self.channel().whenFailure { _ in }
        }
    }

    /// Closes every connection; later commands fail with ``RedisClientError/Code/shutDown``.
    func shutdown() async {
        let channels: [any Channel] = self.state.withLock { state in
            state.isShutDown = true
            return state.slots.compactMap { slot in
                if case .connected(let channel) = slot { return channel }
                return nil
            }
        }
        for channel in channels {
            try? await channel.close()
        }
    }

    /// A connection to send on: one that is open, one being opened, or a new one.
    private func channel() -> EventLoopFuture<any Channel> {
        let action: Action = self.state.withLock { state in
            guard !state.isShutDown else { return .fail(RedisClientError(.shutDown, "the store is shut down")) }
            let count = state.slots.count
            let first = state.next
            state.next = (first + 1) % count
            let now = ContinuousClock.now
            switch state.slots[first] {
            case .connected(let channel):
                return .use(channel)
            case .connecting(let future, _):
                return .wait(future)
            case .idle(let failures, let notBefore) where notBefore <= now:
                let promise = self.group.next().makePromise(of: (any Channel).self)
                state.slots[first] = .connecting(promise.futureResult, failures: failures)
                return .connect(slot: first, promise: promise, failures: failures)
            case .idle:
                // This slot is backing off: lend its turn to a slot that works.
                for offset in 1..<max(count, 1) {
                    switch state.slots[(first + offset) % count] {
                    case .connected(let channel): return .use(channel)
                    case .connecting(let future, _): return .wait(future)
                    case .idle: continue
                    }
                }
                return .fail(RedisClientError(.unavailable, "reconnecting after failed connects"))
            }
        }
        switch action {
        case .use(let channel):
            return channel.eventLoop.makeSucceededFuture(channel)
        case .wait(let future):
            return future
        case .connect(let slot, let promise, let failures):
            self.connect(slot: slot, promise: promise, failures: failures)
            return promise.futureResult
        case .fail(let error):
            return self.group.next().makeFailedFuture(error)
        }
    }

    private func connect(slot: Int, promise: EventLoopPromise<any Channel>, failures: Int) {
        let timeout = TimeAmount(self.configuration.connectTimeout)  // NIO's bootstrap and timers take their own type
        let bootstrap = ClientBootstrap(group: promise.futureResult.eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(RESPDecoder()), RedisCommandHandler()
                    )
                }
            }
        let redis = self.redis
        bootstrap.connect(host: redis.host, port: redis.port)
            .flatMapError { error in
                promise.futureResult.eventLoop.makeFailedFuture(
                    error as? RedisClientError
                        ?? RedisClientError(.connectionFailed, "connect failed: \(type(of: error))")
                )
            }
            .flatMap { channel in
                // AUTH/SELECT share the connect bound: a server that accepts and never answers is not waited on.
                let guardTimer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
                return Self.handshake(channel, redis: redis)
                    .always { _ in guardTimer.cancel() }
                    .flatMapError { error in
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                    .map { channel }
            }
            .whenComplete { result in
                self.connectCompleted(slot: slot, failures: failures, result: result)
                promise.completeWith(result)
            }
    }

    private func connectCompleted(slot: Int, failures: Int, result: Result<any Channel, any Error>) {
        switch result {
        case .success(let channel):
            let isShutDown = self.state.withLock { state in
                state.slots[slot] = .connected(channel)
                return state.isShutDown
            }
            if isShutDown {
                channel.close(promise: nil)
                return
            }
            if failures > 0 {
                self.logger.info("Redis connection re-established", metadata: ["redis.slot": "\(slot)"])
            }
            channel.closeFuture.whenComplete { _ in
                self.state.withLock { state in
                    if case .connected(let current) = state.slots[slot], current === channel {
                        state.slots[slot] = .idle(failures: 0, notBefore: .now)
                    }
                }
                self.logger.debug("Redis connection closed", metadata: ["redis.slot": "\(slot)"])
            }
        case .failure(let error):
            let failures = failures + 1
            let delay = Backoff.cap(
                retry: failures, base: self.configuration.backoffBase, max: self.configuration.backoffMax)
            self.state.withLock { state in
                state.slots[slot] = .idle(failures: failures, notBefore: .now + delay)
            }
            let error = error as? RedisClientError ?? RedisClientError(.connectionFailed, "\(type(of: error))")
            let metadata: Logger.Metadata = [
                "redis.slot": "\(slot)", "redis.error": "\(error)", "redis.failures": "\(failures)",
                "redis.retry_in_ms": "\(Int(delay / .milliseconds(1)))",
            ]
            if error.code == .authenticationFailed || error.code == .selectFailed {
                // A configuration mistake: say so plainly, once per slot and then at debug while it lasts.
                self.logger.log(
                    level: failures == 1 ? .error : .debug,
                    "Redis rejected the rate-limit store's credentials or database; check rate_limit_store.url",
                    metadata: metadata
                )
            } else {
                self.logger.log(level: failures == 1 ? .warning : .debug, "Redis connect failed", metadata: metadata)
            }
        }
    }

    /// `AUTH [username] password` when a password is configured, then `SELECT db` when it is not 0.
    private static func handshake(_ channel: any Channel, redis: RedisStoreConfiguration) -> EventLoopFuture<Void> {
        let loop = channel.eventLoop
        var future = loop.makeSucceededVoidFuture()
        if let password = redis.password {
            let arguments = redis.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            future = future.flatMap {
                Self.send(RESPCommand(arguments), on: channel).flatMapThrowing { reply in
                    guard case .simpleString = reply else {
                        throw RedisClientError(.authenticationFailed, Self.errorLine(reply))
                    }
                }
            }
        }
        if redis.database != 0 {
            future = future.flatMap {
                Self.send(RESPCommand(["SELECT", String(redis.database)]), on: channel).flatMapThrowing { reply in
                    guard case .simpleString = reply else {
                        throw RedisClientError(.selectFailed, Self.errorLine(reply))
                    }
                }
            }
        }
        return future
    }

    private static func errorLine(_ reply: RESPValue) -> String {
        if case .error(let message) = reply { return String(message.prefix(200)) }
        return "unexpected reply"
    }

    static func send(_ command: RESPCommand, on channel: any Channel) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        channel.writeAndFlush(RedisRequest(command: command, promise: promise)).whenFailure { _ in
            promise.fail(RedisClientError(.connectionFailed, "write failed"))
        }
        return promise.futureResult
    }
}
