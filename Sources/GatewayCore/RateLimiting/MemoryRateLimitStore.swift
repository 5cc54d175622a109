import Synchronization

/// Token buckets in this process: GCRA state (one TAT per bucket) in 64 shards, each a dictionary behind its own
/// `Mutex`.
///
/// **Atomicity.** A request's buckets may live in different shards. ``acquire(_:now:)`` locks every shard involved
/// in ascending index order (a fixed global order, so two requests can never wait on each other in a cycle),
/// reads every TAT, decides for all of them at once with ``GCRAMultiDecision``, and writes the new TATs only
/// when every bucket allowed the request. A request denied by one bucket consumes nothing from the others.
///
/// **Memory follows the active keys.** A bucket whose TAT is not after `now` is full, which is the same as having
/// no entry; such entries are swept away, two ways:
/// - amortised: when a shard's entry count reaches its threshold (twice the live count after its last sweep, at
///   least ``minimumSweepThreshold``), the insert that reaches it first sweeps that shard. The cost is O(1) per
///   insert on average, and a shard never holds more than twice the live keys it had at its last sweep (or the
///   minimum) while traffic flows;
/// - explicit: ``sweep()`` sweeps every shard; the gateway may call it periodically (say every 10 s) so that
///   memory is given back after a burst of one-off keys even when no new key arrives.
/// A sweep rebuilds the shard's dictionaries at their new size, so their capacity shrinks too.
///
/// **Keys are exact.** Entries are keyed by policy name, then by the bucket's key string: no hash collision can
/// make two clients share a bucket. Keys up to 15 UTF-8 bytes (any IPv4 key) are stored inline in the entry;
/// longer ones (IPv6, header values) add one heap allocation of their own, about 32 bytes plus their length.
public final class MemoryRateLimitStore: RateLimitStore {
    /// Number of shards (a power of two).
    public static let shardCount = 64
    /// A shard is never swept by inserts before it holds this many entries.
    public static let minimumSweepThreshold = 512

    private let shards: [Shard]
    private let now: @Sendable () -> Int64

    /// - Parameter now: the clock, in nanoseconds, monotonic. Defaults to `ContinuousClock` from the moment the
    ///   store is made; tests pass their own.
    public init(now: (@Sendable () -> Int64)? = nil) {
        self.shards = (0..<Self.shardCount).map { _ in Shard() }
        if let now {
            self.now = now
        } else {
            let origin = ContinuousClock.now
            self.now = { GCRA.nanoseconds(origin.duration(to: ContinuousClock.now)) }
        }
    }

    /// Checks and consumes every bucket atomically at the store's clock.
    public func acquire(_ buckets: [RateLimitBucket]) async -> RateLimitDecision {
        self.acquire(buckets, now: self.now())
    }

    /// Checks and consumes every bucket atomically at `now` (nanoseconds on the store's clock). Synchronous: it
    /// never waits for anything but the shard locks, held for a few dictionary operations.
    public func acquire(_ buckets: [RateLimitBucket], now: Int64) -> RateLimitDecision {
        if buckets.isEmpty { return .allowed([]) }
        if buckets.count == 1 {
            // Most routes have one policy: one shard, one lock, and none of the lock-ordering bookkeeping below.
            let bucket = buckets[0]
            let shard = self.shards[Self.shardIndex(policy: bucket.policy.name, key: bucket.key)]
            return shard.state.withLock { state in
                let tat = state.tat(policy: bucket.policy.name, key: bucket.key)
                let (decision, newTAT) = GCRAMultiDecision.single(policy: bucket.policy, tat: tat, now: now)
                if let newTAT {
                    state.store(policy: bucket.policy.name, key: bucket.key, tat: newTAT, now: now)
                }
                return decision
            }
        }
        var shardOf: [Int] = []
        shardOf.reserveCapacity(buckets.count)
        var order: [Int] = []
        order.reserveCapacity(buckets.count)
        for bucket in buckets {
            let index = Self.shardIndex(policy: bucket.policy.name, key: bucket.key)
            shardOf.append(index)
            if !order.contains(index) { order.append(index) }
        }
        order.sort()
        var tats = [Int64?](repeating: nil, count: buckets.count)
        return self.lockAndDecide(
            level: 0, order: order, buckets: buckets, shardOf: shardOf, tats: &tats, now: now
        ).decision
    }

    /// Holds the lock of `order[level]`, reads its buckets' TATs, recurses into the next shard (or decides when
    /// all locks are held), and on the way back writes this shard's new TATs if the decision allowed.
    private func lockAndDecide(
        level: Int, order: [Int], buckets: [RateLimitBucket], shardOf: [Int], tats: inout [Int64?], now: Int64
    ) -> GCRAMultiDecision {
        let shardIndex = order[level]
        return self.shards[shardIndex].state.withLock { state in
            for index in buckets.indices where shardOf[index] == shardIndex {
                tats[index] = state.tat(policy: buckets[index].policy.name, key: buckets[index].key)
            }
            let decision: GCRAMultiDecision
            if level + 1 < order.count {
                decision = self.lockAndDecide(
                    level: level + 1, order: order, buckets: buckets, shardOf: shardOf, tats: &tats, now: now
                )
            } else {
                decision = GCRAMultiDecision(
                    checking: buckets.indices.map { index in
                        let policy = buckets[index].policy
                        return (policy: policy, gcra: GCRA(policy: policy), tat: tats[index])
                    },
                    now: now
                )
            }
            if decision.allowed {
                for index in buckets.indices where shardOf[index] == shardIndex {
                    state.store(
                        policy: buckets[index].policy.name, key: buckets[index].key, tat: decision.newTATs[index],
                        now: now
                    )
                }
            }
            return decision
        }
    }

    /// Removes every full bucket (TAT not after the store's clock) from every shard.
    public func sweep() {
        self.sweep(now: self.now())
    }

    /// Removes every full bucket (TAT not after `now`) from every shard, one shard lock at a time.
    public func sweep(now: Int64) {
        for shard in self.shards {
            shard.state.withLock { $0.sweep(now: now) }
        }
    }

    /// The number of stored entries (active buckets, plus full ones not yet swept).
    public func activeKeyCount() -> Int {
        self.shards.reduce(0) { total, shard in total + shard.state.withLock { $0.count } }
    }

    static func shardIndex(policy: String, key: String) -> Int {
        var hasher = Hasher()
        hasher.combine(policy)
        hasher.combine(key)
        return hasher.finalize() & (Self.shardCount - 1)
    }

    /// One shard: its dictionaries behind a lock. A class so that the array of shards can hold the `Mutex`.
    private final class Shard: Sendable {
        let state = Mutex(ShardState())
    }

    /// The TATs of one shard, by policy name then key, with the bookkeeping of the amortised sweep.
    private struct ShardState {
        var policies: [String: [String: Int64]] = [:]
        /// Entries stored, full ones not yet swept included.
        var count = 0
        /// The count at which the next insert sweeps this shard.
        var sweepThreshold = MemoryRateLimitStore.minimumSweepThreshold

        func tat(policy: String, key: String) -> Int64? {
            self.policies[policy]?[key]
        }

        mutating func store(policy: String, key: String, tat: Int64, now: Int64) {
            if self.policies[policy, default: [:]].updateValue(tat, forKey: key) == nil {
                self.count += 1
                if self.count >= self.sweepThreshold { self.sweep(now: now) }
            }
        }

        mutating func sweep(now: Int64) {
            var count = 0
            var swept: [String: [String: Int64]] = [:]
            for (policy, buckets) in self.policies {
                let live = buckets.filter { $0.value > now }
                if !live.isEmpty {
                    count += live.count
                    swept[policy] = live
                }
            }
            self.policies = swept
            self.count = count
            self.sweepThreshold = max(MemoryRateLimitStore.minimumSweepThreshold, 2 * count)
        }
    }
}
