public import GatewayCore
import NIOCore

/// Quota-shield blocks shared by every gateway instance through the rate-limit store's Redis connections.
///
/// One key per upstream and shield key, `{gw}:qs:<key>` (the key holds a SHA-256 digest for `header:NAME`, never the
/// header itself), set with `SET … PX` so Redis forgets it at the vendor's reset. A read is one `GET`, a write one
/// `SET`, each bounded by the store's `timeout`. When Redis cannot be asked, the shield fails open: the request goes
/// to the vendor, which is what would happen without a shield (the rate-limit store's breaker and metric report the
/// outage).
public struct RedisQuotaShieldStore: QuotaShieldStore {
    private let redis: RedisRateLimitStore

    public init(sharing redis: RedisRateLimitStore) {
        self.redis = redis
    }

    static func redisKey(_ key: String) -> String {
        "\(RedisRateLimitScript.hashTag):qs:\(key)"
    }

    public func block(for key: String, nowUnixMilliseconds now: Int64) async -> QuotaShieldBlock? {
        do {
            let command = RESPCommand(["GET", Self.redisKey(key)])
            let reply = try await self.redis.pool.send(command, timeout: self.redis.timeout)
            guard case .bulkString(let text) = reply, let block = QuotaShieldBlock(encoded: text),
                block.holds(nowUnixMilliseconds: now)
            else { return nil }
            return block
        } catch {
            self.redis.logger.debug("Redis quota-shield read failed", metadata: ["redis.error": "\(error)"])
            return nil
        }
    }

    public func record(_ block: QuotaShieldBlock, for key: String, nowUnixMilliseconds now: Int64) async {
        let milliseconds = block.untilUnixMilliseconds - now
        guard milliseconds > 0 else { return }
        let command = RESPCommand(["SET", Self.redisKey(key), block.encoded(), "PX", String(milliseconds)])
        do {
            _ = try await self.redis.pool.send(command, timeout: self.redis.timeout)
        } catch {
            self.redis.logger.debug("Redis quota-shield write failed", metadata: ["redis.error": "\(error)"])
        }
    }
}
