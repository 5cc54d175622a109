public import GatewayCore
public import Logging
public import NIOCore
public import ServiceLifecycle
import Synchronization

/// Token buckets shared by every gateway instance through Redis (`rate_limit_store.kind: redis`).
///
/// Each request costs one round trip: `EVALSHA` of ``RedisRateLimitScript`` with all of the request's buckets,
/// which checks and consumes them atomically on Redis's clock. The script is loaded with `SCRIPT LOAD` on first
/// use and again whenever Redis answers `NOSCRIPT` (after a restart or `SCRIPT FLUSH`).
///
/// Failures never make a request wait longer than `timeout`: a call that does not complete in time, a refused
/// connection or an error reply answers ``RateLimitDecision/storeUnavailable`` and the gateway applies
/// `on_failure`. After ``Tuning/breakerThreshold`` consecutive failures a breaker opens (GatewayCore's
/// `CircuitBreaker`, the one upstreams have): for ``Tuning/breakerCoolDown`` every call answers `storeUnavailable` at
/// once without asking Redis, then one call probes; its success closes the breaker, its failure keeps it open for
/// another cool-down. Opening and recovering are logged, and ``isDegraded`` (plus the optional `onDegradedChange`
/// callback) lets the gateway export a metric.
///
/// A `Service`: ``run()`` opens the connections and waits for graceful shutdown, then closes them.
public final class RedisRateLimitStore: RateLimitStore, Service {
    /// Knobs beyond the configuration file's, with defaults for production; tests shorten them.
    public struct Tuning: Sendable {
        /// Pipelined connections kept open.
        public var connectionCount: Int
        /// Bound on TCP connect plus `AUTH`/`SELECT`.
        public var connectTimeout: Duration
        /// Reconnect backoff (`Backoff.cap`): first delay, doubled per failure up to the maximum.
        public var reconnectBackoffBase: Duration
        public var reconnectBackoffMax: Duration
        /// Consecutive failures that open the breaker.
        public var breakerThreshold: Int
        /// How long the open breaker answers without asking Redis before it probes.
        public var breakerCoolDown: Duration

        public init(
            connectionCount: Int = 2, connectTimeout: Duration = .seconds(1),
            reconnectBackoffBase: Duration = .milliseconds(50), reconnectBackoffMax: Duration = .seconds(2),
            breakerThreshold: Int = 5, breakerCoolDown: Duration = .seconds(1)
        ) {
            self.connectionCount = connectionCount
            self.connectTimeout = connectTimeout
            self.reconnectBackoffBase = reconnectBackoffBase
            self.reconnectBackoffMax = reconnectBackoffMax
            self.breakerThreshold = breakerThreshold
            self.breakerCoolDown = breakerCoolDown
        }
    }

    let pool: RedisConnectionPool
    let timeout: Duration
    let logger: Logger
    private let breaker: SharedCircuitBreaker
    private let scriptSHA = Mutex<String?>(nil)
    private let lastErrorBox = Mutex<RedisClientError?>(nil)
    private let onDegradedChange: (@Sendable (Bool) -> Void)?

    /// - Parameters:
    ///   - configuration: host, port, database, credentials and the per-call `timeout` (from the config's URL).
    ///   - eventLoopGroup: the loops the connections run on (the gateway's, usually).
    ///   - logger: receives the degraded/recovered lines and connection problems.
    ///   - tuning: pool, backoff and breaker settings.
    ///   - onDegradedChange: called with `true` when the breaker opens and `false` when the store recovers (for a
    ///     gauge); called after the store's lock is released.
    public init(
        configuration: RedisStoreConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger,
        tuning: Tuning = Tuning(), onDegradedChange: (@Sendable (Bool) -> Void)? = nil
    ) {
        var logger = logger
        logger[metadataKey: "redis.endpoint"] = "\(configuration.host):\(configuration.port)/\(configuration.database)"
        self.logger = logger
        self.timeout = configuration.timeout
        self.pool = RedisConnectionPool(
            redis: configuration,
            configuration: .init(
                connectionCount: max(1, tuning.connectionCount), connectTimeout: tuning.connectTimeout,
                backoffBase: tuning.reconnectBackoffBase, backoffMax: tuning.reconnectBackoffMax
            ),
            group: eventLoopGroup, logger: logger
        )
        self.breaker = SharedCircuitBreaker(
            configuration: CircuitBreakerConfiguration(
                consecutiveFailures: tuning.breakerThreshold, openFor: tuning.breakerCoolDown))
        self.onDegradedChange = onDegradedChange
    }

    /// Whether the breaker is open or half-open (probing): Redis has been failing and calls answer `storeUnavailable`.
    public var isDegraded: Bool {
        self.breaker.phase != .closed
    }

    /// The last error of a call to Redis (nil before any), for diagnostics and tests.
    public var lastError: RedisClientError? {
        self.lastErrorBox.withLock { $0 }
    }

    /// Opens the connections, waits for graceful shutdown (or cancellation), then closes them.
    public func run() async throws {
        self.pool.warmUp()
        try? await gracefulShutdown()
        await self.shutdown()
    }

    /// Closes the connections; later calls answer `storeUnavailable`.
    public func shutdown() async {
        await self.pool.shutdown()
    }

    /// Checks and consumes every bucket atomically in Redis: one script call, at most `timeout`.
    public func acquire(_ buckets: [RateLimitBucket]) async -> RateLimitDecision {
        if buckets.isEmpty { return .allowed([]) }
        let isProbe: Bool
        switch self.breaker.requestStarting(now: .now) {
        case .proceed: isProbe = false
        case .proceedAsProbe: isProbe = true
        case .failFast: return .storeUnavailable
        }
        do {
            let reply = try await self.runScript(buckets)
            let decision = try Self.decision(from: reply, buckets: buckets)
            let action = self.breaker.requestFinished(.success, wasProbe: isProbe, now: .now)
            self.report(action, wasProbe: isProbe, error: nil)
            return decision
        } catch {
            let error = error as? RedisClientError ?? RedisClientError(.protocolError, "\(type(of: error))")
            self.lastErrorBox.withLock { $0 = error }
            let action = self.breaker.requestFinished(.failure, wasProbe: isProbe, now: .now)
            self.report(action, wasProbe: isProbe, error: error)
            return .storeUnavailable
        }
    }

    /// Logs what a finished call changed: the store is degraded when the breaker opens from closed, recovered when
    /// a probe closes it. A failed probe only reopens it (still degraded, logged at debug like any failed call).
    private func report(_ action: CircuitBreaker.FinishAction, wasProbe: Bool, error: RedisClientError?) {
        switch (action, wasProbe) {
        case (.opened, false):
            self.logger.error(
                "Redis rate-limit store degraded: requests get on_failure without asking Redis until it is back",
                metadata: ["redis.error": "\(error.map { "\($0)" } ?? "")"]
            )
            self.onDegradedChange?(true)
        case (.closed, _):
            self.logger.notice("Redis rate-limit store recovered")
            self.onDegradedChange?(false)
        case (.opened, true), (.none, _):
            if let error {
                self.logger.debug("Redis rate-limit call failed", metadata: ["redis.error": "\(error)"])
            }
        }
    }

    /// `EVALSHA` with the loaded script; `SCRIPT LOAD` first when no SHA is known yet or Redis answers `NOSCRIPT`.
    /// Every step shares one deadline.
    private func runScript(_ buckets: [RateLimitBucket]) async throws -> RESPValue {
        let deadline = ContinuousClock.now + self.timeout
        var arguments: [String] = []
        arguments.reserveCapacity(3 + buckets.count * 3)
        arguments.append("EVALSHA")
        arguments.append("")
        arguments.append(String(buckets.count))
        for bucket in buckets {
            arguments.append(RedisRateLimitScript.redisKey(for: bucket))
        }
        for bucket in buckets {
            arguments.append(String(RedisRateLimitScript.emissionIntervalMicroseconds(bucket.policy)))
            arguments.append(String(max(1, bucket.policy.burst)))
        }
        var sha: String
        if let known = self.scriptSHA.withLock({ $0 }) {
            sha = known
        } else {
            sha = try await self.loadScript(deadline: deadline)
        }
        arguments[1] = sha
        var reply = try await self.pool.send(RESPCommand(arguments), timeout: Self.remaining(until: deadline))
        if reply.errorPrefix == "NOSCRIPT" {
            self.logger.debug("Redis lost the rate-limit script; loading it again")
            sha = try await self.loadScript(deadline: deadline)
            arguments[1] = sha
            reply = try await self.pool.send(RESPCommand(arguments), timeout: Self.remaining(until: deadline))
        }
        if case .error(let message) = reply {
            throw RedisClientError(.serverError, String(message.prefix(200)))
        }
        return reply
    }

    private func loadScript(deadline: ContinuousClock.Instant) async throws -> String {
        let reply = try await self.pool.send(
            RESPCommand(["SCRIPT", "LOAD", RedisRateLimitScript.source]), timeout: Self.remaining(until: deadline)
        )
        guard case .bulkString(let sha) = reply else {
            if case .error(let message) = reply {
                throw RedisClientError(.serverError, String(message.prefix(200)))
            }
            throw RedisClientError(.protocolError, "SCRIPT LOAD did not return a SHA")
        }
        self.scriptSHA.withLock { $0 = sha }
        return sha
    }

    /// The decision of the script's reply `{allowed, retry_us, remaining_1, reset_us_1, …}`.
    static func decision(from reply: RESPValue, buckets: [RateLimitBucket]) throws -> RateLimitDecision {
        guard case .array(let values) = reply, values.count == 2 + 2 * buckets.count else {
            throw RedisClientError(.protocolError, "unexpected script reply")
        }
        var numbers: [Int64] = []
        numbers.reserveCapacity(values.count)
        for value in values {
            guard case .integer(let number) = value else {
                throw RedisClientError(.protocolError, "unexpected script reply")
            }
            numbers.append(number)
        }
        var states: [RateLimitBucketState] = []
        states.reserveCapacity(buckets.count)
        for (index, bucket) in buckets.enumerated() {
            states.append(
                RateLimitBucketState(
                    policy: bucket.policy, remaining: Int(max(0, numbers[2 + 2 * index])),
                    resetAfter: .microseconds(max(0, numbers[3 + 2 * index]))
                )
            )
        }
        return numbers[0] == 1 ? .allowed(states) : .denied(states, retryAfter: .microseconds(max(0, numbers[1])))
    }

    private static func remaining(until deadline: ContinuousClock.Instant) throws -> Duration {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { throw RedisClientError(.timedOut, "no reply within the timeout") }
        return left
    }
}
