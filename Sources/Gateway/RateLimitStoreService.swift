import GatewayCore
import Logging
import NIOCore
import RedisRateLimit
import ServiceLifecycle

/// Builds the rate-limit store the config asks for and keeps it healthy: the Redis store's connections, or the
/// memory store's periodic sweep of full buckets (so memory follows the active keys only).
///
/// The store's kind is fixed for the life of the process: a reload that changes `rate_limit_store` is reported as
/// needing a restart.
final class RateLimitStoreService: Service, Sendable {
    let store: any RateLimitStore
    /// Where `quota_shield` blocks live: beside the buckets (in memory, or in the same Redis).
    let quotaShieldStore: any QuotaShieldStore
    private let memory: MemoryRateLimitStore?
    private let redis: RedisRateLimitStore?
    let configuration: RateLimitStoreConfiguration
    private let sweepInterval: Duration

    init(
        configuration: RateLimitStoreConfiguration, eventLoopGroup: any EventLoopGroup, metrics: GatewayMetrics,
        logger: Logger, sweepInterval: Duration = .seconds(10)
    ) {
        self.configuration = configuration
        self.sweepInterval = sweepInterval
        switch configuration {
        case .memory:
            let memory = MemoryRateLimitStore()
            self.memory = memory
            self.redis = nil
            self.store = memory
            self.quotaShieldStore = MemoryQuotaShieldStore()
        case .redis(let redisConfiguration):
            let redis = RedisRateLimitStore(
                configuration: redisConfiguration, eventLoopGroup: eventLoopGroup, logger: logger,
                onDegradedChange: { metrics.rateLimitStore(degraded: $0) })
            self.memory = nil
            self.redis = redis
            self.store = redis
            self.quotaShieldStore = RedisQuotaShieldStore(sharing: redis)
        }
        metrics.rateLimitStore(degraded: false)
    }

    func run() async throws {
        if let redis = self.redis {
            try await redis.run()
            return
        }
        guard let memory = self.memory else { return }
        let interval = self.sweepInterval
        // Sweeps until graceful shutdown (or cancellation) ends the group.
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil {
                    memory.sweep()
                }
            }
            group.addTask {
                try? await gracefulShutdown()
            }
            await group.next()
            group.cancelAll()
        }
    }
}
