public import GatewayCore

/// The Lua script that checks and consumes all of a request's buckets in one atomic call, with GCRA
/// (the same arithmetic as ``GCRA`` in GatewayCore, in whole microseconds).
///
/// - `KEYS[i]`: the bucket's key; its value is the bucket's TAT in microseconds of Redis's clock.
/// - `ARGV[2i-1]`, `ARGV[2i]`: the emission interval `T` in microseconds and the burst.
/// - Time is `redis.call('TIME')`, so every gateway instance shares one clock. (Redis 7 replicates a script's
///   effects, not the script, so reading the time before writing is allowed.)
/// - All buckets are read first; only if every one has a token are all new TATs written, each with `PX` equal to
///   the time until that bucket is full again: a full bucket's key has expired, and Redis holds only active keys.
/// - Returns `{allowed, retry_after_us, remaining_1, reset_after_us_1, …}`; when denied, the remaining and
///   reset values describe each bucket as it stands (nothing was consumed).
///
/// **Keys and Redis Cluster.** Every key starts with the hash tag `{gw}`, so all of them hash to one slot and one
/// script may touch any combination of them. A per-request tag cannot work: a bucket (say one tenant's) is
/// shared by requests from many clients and must be the same key for all of them, and a route's buckets are
/// combined with other routes' in other requests; only a tag common to every key keeps every combination in one
/// slot. The cost is that one cluster node holds all rate-limit keys, which the small per-key state and the
/// single round trip per request make affordable.
public enum RedisRateLimitScript {
    public static let source = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local n = #KEYS
        local tats = {}
        local allowed = 1
        local retry = 0
        for i = 1, n do
          local T = tonumber(ARGV[2 * i - 1])
          local D = T * tonumber(ARGV[2 * i])
          local tat = tonumber(redis.call('GET', KEYS[i])) or now
          if tat < now then tat = now end
          tats[i] = tat
          local wait = tat + T - D - now
          if wait > 0 then
            allowed = 0
            if wait > retry then retry = wait end
          end
        end
        local result = {allowed, retry}
        for i = 1, n do
          local T = tonumber(ARGV[2 * i - 1])
          local D = T * tonumber(ARGV[2 * i])
          local tat = tats[i]
          if allowed == 1 then
            tat = tat + T
            redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
          end
          local remaining = math.floor((D - (tat - now)) / T)
          if remaining < 0 then remaining = 0 end
          result[2 * i + 1] = remaining
          result[2 * i + 2] = tat - now
        end
        return result
        """

    /// The hash tag every key carries (see the type's documentation).
    public static let hashTag = "{gw}"

    /// The Redis key of a bucket: `{gw}:rl:<length of the policy name>:<policy name>:<key>`. The length makes the
    /// split between name and key unambiguous whatever characters either holds.
    public static func redisKey(for bucket: RateLimitBucket) -> String {
        "\(Self.hashTag):rl:\(bucket.policy.name.utf8.count):\(bucket.policy.name):\(bucket.key)"
    }

    /// `T` in whole microseconds (at least 1) for the script.
    public static func emissionIntervalMicroseconds(_ policy: RateLimitPolicy) -> Int64 {
        max(1, GCRA.nanoseconds(policy.rate.period) / 1000 / Int64(max(1, policy.rate.count)))
    }
}
