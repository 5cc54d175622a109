import GatewayCore
import GatewayTestSupport
import Testing

private let millisecond: Int64 = 1_000_000
private let second: Int64 = 1_000_000_000

@Suite struct GCRATests {
    @Test func emissionIntervalAndTolerance() {
        let gcra = GCRA(rate: Rate(count: 100, period: .seconds(60)), burst: 20)
        #expect(gcra.emissionInterval == 600 * millisecond)
        #expect(gcra.tolerance == 12 * second)
        let defaultBurst = RateLimitPolicy(name: "p", rate: Rate(count: 5, period: .seconds(1)), key: .global)
        #expect(GCRA(policy: defaultBurst).burst == 5)
    }

    @Test func fullBucketDrainsThenDeniesThenRefills() {
        let gcra = GCRA(rate: Rate(count: 10, period: .seconds(1)), burst: 10)
        var tat: Int64? = nil
        for expectedRemaining in stride(from: 9, through: 0, by: -1) {
            let outcome = gcra.check(tat: tat, now: 0)
            #expect(outcome.allowed)
            #expect(outcome.remaining == expectedRemaining)
            #expect(outcome.resetAfter == Int64(10 - expectedRemaining) * 100 * millisecond)
            #expect(outcome.retryAfter == 0)
            tat = outcome.newTAT
        }
        let denied = gcra.check(tat: tat, now: 0)
        #expect(!denied.allowed)
        #expect(denied.remaining == 0)
        #expect(denied.resetAfter == second)
        #expect(denied.retryAfter == 100 * millisecond)
        // One nanosecond early is still too early; on time, one token is back.
        #expect(!gcra.check(tat: tat, now: 100 * millisecond - 1).allowed)
        let again = gcra.check(tat: tat, now: 100 * millisecond)
        #expect(again.allowed)
        #expect(again.remaining == 0)
        // Long after: the bucket is full, as if it had no entry.
        #expect(gcra.check(tat: tat, now: 5 * second) == gcra.check(tat: nil, now: 5 * second))
        #expect(gcra.peek(tat: tat, now: 5 * second) == (remaining: 10, resetAfter: 0))
    }

    @Test func burstSmallerThanRate() {
        // 100/1m, burst 20: T = 600 ms; after 20 immediate requests the 21st waits 600 ms.
        let gcra = GCRA(rate: Rate(count: 100, period: .seconds(60)), burst: 20)
        var tat: Int64? = nil
        for _ in 0..<20 {
            let outcome = gcra.check(tat: tat, now: 0)
            #expect(outcome.allowed)
            tat = outcome.newTAT
        }
        let denied = gcra.check(tat: tat, now: 0)
        #expect(!denied.allowed && denied.retryAfter == 600 * millisecond && denied.resetAfter == 12 * second)
        let half = gcra.check(tat: tat, now: 6 * second)
        #expect(half.allowed && half.remaining == 9)
    }

    /// GCRA agrees with a plain token bucket (tokens counted in nanoseconds of refill) on random traffic.
    @Test(arguments: [1 as UInt64, 2, 3, 42, 1234])
    func matchesNaiveTokenBucket(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let count = Int.random(in: 1...50, using: &random)
        let burst = Int.random(in: 1...30, using: &random)
        let period = Duration.milliseconds(Int.random(in: 10...10_000, using: &random))
        let gcra = GCRA(rate: Rate(count: count, period: period), burst: burst)
        let interval = gcra.emissionInterval
        let capacity = interval * Int64(burst)
        var tokens = capacity  // nanoseconds of refill held by the bucket; a token is `interval`
        var last: Int64 = 0
        var now: Int64 = 0
        var tat: Int64? = nil
        for _ in 0..<2_000 {
            now += Int64.random(in: 0...(2 * interval), using: &random)
            tokens = min(capacity, tokens + (now - last))
            last = now
            let naiveAllowed = tokens >= interval
            let outcome = gcra.check(tat: tat, now: now)
            #expect(outcome.allowed == naiveAllowed)
            if naiveAllowed {
                tokens -= interval
                tat = outcome.newTAT
                #expect(outcome.remaining == Int(tokens / interval))
                #expect(outcome.resetAfter == capacity - tokens)
            } else {
                #expect(outcome.retryAfter == interval - tokens)
            }
        }
    }

    /// The one-bucket shortcut decides what the general decision decides for one bucket, on random traffic that
    /// both allows and denies.
    @Test(arguments: [1 as UInt64, 7, 99])
    func singleDecisionMatchesTheMultiDecision(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var denied = 0
        for _ in 0..<500 {
            let policy = RateLimitPolicy(
                name: "p", rate: Rate(count: Int.random(in: 1...100, using: &random), period: .seconds(1)),
                burst: Int.random(in: 1...20, using: &random), key: .clientIP)
            let gcra = GCRA(policy: policy)
            let now = Int64.random(in: 0...1_000_000_000_000, using: &random)
            let tat: Int64? =
                Bool.random(using: &random)
                ? nil
                : now + Int64.random(in: -gcra.tolerance...(gcra.tolerance + gcra.emissionInterval), using: &random)
            let multi = GCRAMultiDecision(checking: [(policy: policy, gcra: gcra, tat: tat)], now: now)
            let single = GCRAMultiDecision.single(policy: policy, tat: tat, now: now)
            #expect(single.decision == multi.decision)
            #expect(single.newTAT == (multi.allowed ? multi.newTATs[0] : nil))
            if !multi.allowed { denied += 1 }
        }
        #expect(denied > 20 && denied < 480, "the traffic must exercise both answers (\(denied) denied)")
    }

    @Test func multiDecisionConsumesAllOrNothing() {
        let strict = RateLimitPolicy(name: "strict", rate: Rate(count: 1, period: .seconds(10)), burst: 1, key: .global)
        let loose = RateLimitPolicy(name: "loose", rate: Rate(count: 10, period: .seconds(1)), burst: 10, key: .global)
        let allowed = GCRAMultiDecision(
            checking: [(strict, GCRA(policy: strict), nil), (loose, GCRA(policy: loose), nil)], now: 0
        )
        #expect(allowed.allowed)
        #expect(allowed.newTATs == [10 * second, 100 * millisecond])
        #expect(allowed.states.map(\.remaining) == [0, 9])
        let denied = GCRAMultiDecision(
            checking: [(strict, GCRA(policy: strict), 10 * second), (loose, GCRA(policy: loose), 100 * millisecond)],
            now: 0
        )
        #expect(!denied.allowed)
        #expect(denied.retryAfter == 10 * second)
        // Reported as they stand: the loose bucket still has 9.
        #expect(denied.states.map(\.remaining) == [0, 9])
        #expect(denied.decision == .denied(denied.states, retryAfter: .seconds(10)))
    }
}
