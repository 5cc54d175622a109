import GatewayCore
import GatewayTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A clock the test moves by hand.
final class ManualNanosecondClock: Sendable {
    private let value = Atomic<Int64>(0)

    var now: Int64 { self.value.load(ordering: .relaxed) }

    func set(_ nanoseconds: Int64) {
        self.value.store(nanoseconds, ordering: .relaxed)
    }
}

private let second: Int64 = 1_000_000_000

@Suite struct MemoryRateLimitStoreTests {
    let perClient = RateLimitPolicy(
        name: "per_client", rate: Rate(count: 100, period: .seconds(60)), burst: 20, key: .clientIP
    )
    let perTenant = RateLimitPolicy(
        name: "per_tenant", rate: Rate(count: 1000, period: .seconds(3600)), key: .header("X-Tenant")
    )

    @Test func sequenceFollowsGCRA() async {
        let clock = ManualNanosecondClock()
        let store = MemoryRateLimitStore(now: { clock.now })
        let bucket = RateLimitBucket(policy: self.perClient, key: "10.0.0.1")
        for expected in stride(from: 19, through: 0, by: -1) {
            guard case .allowed(let states) = store.acquire([bucket], now: 0) else {
                Issue.record("request should be allowed")
                return
            }
            #expect(
                states == [
                    RateLimitBucketState(
                        policy: self.perClient, remaining: expected, resetAfter: .milliseconds(600 * (20 - expected))
                    )
                ])
        }
        #expect(
            store.acquire([bucket], now: 0)
                == .denied(
                    [RateLimitBucketState(policy: self.perClient, remaining: 0, resetAfter: .seconds(12))],
                    retryAfter: .milliseconds(600)
                )
        )
        // Another key is independent.
        guard case .allowed = store.acquire([RateLimitBucket(policy: self.perClient, key: "10.0.0.2")], now: 0) else {
            Issue.record("another key must have its own bucket")
            return
        }
        // The async entry point uses the injected clock.
        clock.set(600_000_000)
        let decision = await store.acquire([bucket])
        guard case .allowed(let states) = decision else {
            Issue.record("one token should be back after 600 ms")
            return
        }
        #expect(states.first?.remaining == 0)
    }

    @Test func deniedByOneConsumesNothingFromOthers() {
        let store = MemoryRateLimitStore(now: { 0 })
        let strict = RateLimitPolicy(name: "strict", rate: Rate(count: 1, period: .seconds(10)), burst: 1, key: .global)
        let client = RateLimitBucket(policy: self.perClient, key: "10.0.0.1")
        let global = RateLimitBucket(policy: strict, key: "g")
        guard case .allowed = store.acquire([client, global], now: 0) else {
            Issue.record("first request should be allowed")
            return
        }
        for _ in 0..<5 {
            guard case .denied(let states, let retryAfter) = store.acquire([client, global], now: 0) else {
                Issue.record("the strict bucket is empty")
                return
            }
            #expect(retryAfter == .seconds(10))
            #expect(states.map(\.remaining) == [19, 0])
        }
        // The per_client bucket lost exactly one token (the allowed request's).
        guard case .allowed(let states) = store.acquire([client], now: 0) else {
            Issue.record("per_client still has tokens")
            return
        }
        #expect(states.first?.remaining == 18)
    }

    @Test func concurrentAcquiresAreExact() async {
        let store = MemoryRateLimitStore(now: { 0 })
        let policy = RateLimitPolicy(name: "p", rate: Rate(count: 100, period: .seconds(3600)), key: .global)
        let allowed = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<400 {
                group.addTask {
                    if case .allowed = await store.acquire([RateLimitBucket(policy: policy, key: "g")]) { return true }
                    return false
                }
            }
            var count = 0
            for await result in group where result { count += 1 }
            return count
        }
        #expect(allowed == 100)
    }

    /// Requests over many shard combinations, in both orders, from many threads: no deadlock, exact counts.
    @Test func multiShardRequestsNeitherDeadlockNorOverspend() async {
        let store = MemoryRateLimitStore(now: { 0 })
        let policy = RateLimitPolicy(name: "p", rate: Rate(count: 50, period: .seconds(3600)), burst: 50, key: .global)
        let keys = (0..<16).map { RateLimitBucket(policy: policy, key: "k\($0)") }
        let allowed = await withTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var random = SplitMix64(seed: UInt64(task))
                    var allowed = 0
                    for _ in 0..<2_000 {
                        let buckets = Array(keys.shuffled(using: &random).prefix(Int.random(in: 1...4, using: &random)))
                        if case .allowed = store.acquire(buckets, now: 0) { allowed += buckets.count }
                    }
                    return allowed
                }
            }
            return await group.reduce(0, +)
        }
        // Tokens taken by allowed requests plus tokens left equal the 16 full buckets of 50: nothing was lost
        // or spent twice. Tokens left are read by taking one more.
        let left = keys.map { bucket -> Int in
            switch store.acquire([bucket], now: 0) {
            case .allowed(let states): return states[0].remaining + 1
            case .denied(let states, _): return states[0].remaining
            case .storeUnavailable: return -1_000
            }
        }
        #expect(allowed + left.reduce(0, +) == 16 * 50)
        #expect(allowed > 0)
    }

    /// Run in a child process of its own (``IsolatedTest``): the resident size is process-wide, and tests running
    /// beside it in the suite's process would move it.
    @Test func fullBucketsAreSweptAndMemoryFollowsActiveKeys() async throws {
        let outcome = try await IsolatedTest.run(
            "MemoryRateLimitStoreTests/fullBucketsAreSweptAndMemoryFollowsActiveKeys"
        ) {
            try Self.fillSweepAndMeasure()
        }
        #expect(outcome.passed, "\(outcome.report)")
    }

    private static func fillSweepAndMeasure() throws {
        let clock = ManualNanosecondClock()
        let store = MemoryRateLimitStore(now: { clock.now })
        let policy = RateLimitPolicy(name: "p", rate: Rate(count: 1, period: .seconds(1)), burst: 1, key: .clientIP)
        let total = 1_000_000
        let before = ProcessMemory.residentBytes()
        for index in 0..<total {
            _ = store.acquire([RateLimitBucket(policy: policy, key: Self.ipKey(index))], now: 0)
        }
        let after = ProcessMemory.residentBytes()
        #expect(store.activeKeyCount() == total)
        let perKey = Double(after - before) / Double(total)
        print("MemoryRateLimitStore: \(Int(perKey)) bytes of RSS per active key (1M IPv4 keys)")
        #expect(before > 0 && perKey < 200, "\(Int(perKey)) bytes of RSS per active key")
        // Time passes: every bucket is full again. New one-off keys sweep the shards as they fill up...
        clock.set(2 * second)
        for index in total..<(2 * total) {
            _ = store.acquire([RateLimitBucket(policy: policy, key: Self.ipKey(index))], now: 2 * second)
        }
        #expect(store.activeKeyCount() < total + total / 2)
        // ...and an explicit sweep once they are full empties the store.
        clock.set(4 * second)
        store.sweep()
        #expect(store.activeKeyCount() == 0)
    }

    @Test func sweepKeepsBucketsThatAreNotFull() {
        let store = MemoryRateLimitStore(now: { 0 })
        let policy = RateLimitPolicy(name: "p", rate: Rate(count: 1, period: .seconds(10)), burst: 2, key: .global)
        _ = store.acquire([RateLimitBucket(policy: policy, key: "a")], now: 0)
        _ = store.acquire([RateLimitBucket(policy: policy, key: "b")], now: 5 * second)
        store.sweep(now: 10 * second)
        #expect(store.activeKeyCount() == 1)
        store.sweep(now: 15 * second)
        #expect(store.activeKeyCount() == 0)
    }

    static func ipKey(_ index: Int) -> String {
        "10.\(index >> 16 & 0xFF).\(index >> 8 & 0xFF).\(index & 0xFF)"
    }
}
