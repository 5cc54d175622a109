import GatewayCore
import GatewayTestSupport
import Testing

@Suite("Backoff")
struct BackoffTests {
    private let base: Duration = .milliseconds(100)
    private let max: Duration = .seconds(2)

    @Test("the caps of the defaults double from 100ms and stop at 2s")
    func capTable() {
        let expected: [(Int, Duration)] = [
            (1, .milliseconds(100)), (2, .milliseconds(200)), (3, .milliseconds(400)), (4, .milliseconds(800)),
            (5, .milliseconds(1600)), (6, .seconds(2)), (7, .seconds(2)), (30, .seconds(2)),
        ]
        for (retry, cap) in expected {
            #expect(Backoff.cap(retry: retry, base: self.base, max: self.max) == cap, "retry \(retry)")
        }
    }

    @Test("retry numbers below 1 are treated as the first retry")
    func capBelowOne() {
        #expect(Backoff.cap(retry: 0, base: self.base, max: self.max) == .milliseconds(100))
        #expect(Backoff.cap(retry: -7, base: self.base, max: self.max) == .milliseconds(100))
        #expect(Backoff.cap(retry: .min, base: self.base, max: self.max) == .milliseconds(100))
    }

    @Test("huge retry numbers and huge durations saturate at max instead of overflowing")
    func capOverflow() {
        let huge = Duration.nanoseconds(Int64.max)
        #expect(Backoff.cap(retry: 63, base: .nanoseconds(1), max: huge) == .nanoseconds(Int64(1) << 62))
        #expect(Backoff.cap(retry: 64, base: .nanoseconds(1), max: huge) == huge)
        #expect(Backoff.cap(retry: 65, base: .nanoseconds(1), max: huge) == huge)
        #expect(Backoff.cap(retry: .max, base: self.base, max: self.max) == self.max)
        #expect(Backoff.cap(retry: 40, base: self.base, max: self.max) == self.max)
        // Durations beyond Int64 nanoseconds are clamped, not trapped on.
        #expect(Backoff.cap(retry: 3, base: .seconds(Int64.max), max: .seconds(Int64.max)) == huge)
        var generator = SplitMix64(seed: 1)
        let delay = Backoff.delay(retry: .max, base: .seconds(Int64.max), max: .seconds(Int64.max), using: &generator)
        #expect(delay >= .zero && delay <= huge)
    }

    @Test("a zero or negative base or max never waits")
    func zeroBase() {
        var generator = SplitMix64(seed: 9)
        #expect(Backoff.delay(retry: 5, base: .zero, max: self.max, using: &generator) == .zero)
        #expect(Backoff.delay(retry: 5, base: self.base, max: .zero, using: &generator) == .zero)
        #expect(Backoff.delay(retry: 5, base: .milliseconds(-5), max: self.max, using: &generator) == .zero)
        #expect(Backoff.cap(retry: 2, base: self.base, max: .seconds(-1)) == .zero)
    }

    @Test("every delay lies in [0, cap], for many seeds and retries")
    func boundsProperty() {
        for seed in UInt64(0)..<500 {
            var generator = SplitMix64(seed: seed)
            for retry in 1...12 {
                let cap = Backoff.cap(retry: retry, base: self.base, max: self.max)
                let delay = Backoff.delay(retry: retry, base: self.base, max: self.max, using: &generator)
                #expect(delay >= .zero && delay <= cap, "seed \(seed) retry \(retry): \(delay) > \(cap)")
            }
        }
    }

    @Test(
        "the jitter is full: the mean is half the cap and both ends of the interval are reached",
        arguments: [1, 3, 8]
    )
    func meanIsHalfTheCap(retry: Int) {
        var generator = SplitMix64(seed: 0xC0FFEE)
        let cap = Backoff.cap(retry: retry, base: self.base, max: self.max)
        let samples = 20_000
        var sum = 0.0
        var low = 0
        var high = 0
        for _ in 0..<samples {
            let delay = Backoff.delay(retry: retry, base: self.base, max: self.max, using: &generator)
            let fraction = delay / cap
            sum += fraction
            if fraction < 0.05 { low += 1 }
            if fraction > 0.95 { high += 1 }
        }
        let mean = sum / Double(samples)
        // A uniform variable on [0, 1] has mean 0.5 and standard deviation 0.289; with 20,000 samples the standard
        // error is 0.002, so 0.02 is ten of them.
        #expect(abs(mean - 0.5) < 0.02, "mean fraction \(mean)")
        // About 5% of samples in each 5% tail (1000 expected).
        #expect((800...1200).contains(low), "low tail \(low)")
        #expect((800...1200).contains(high), "high tail \(high)")
    }

    @Test("a seeded generator gives the same delays; another seed gives others")
    func deterministic() {
        func sequence(seed: UInt64) -> [Duration] {
            var generator = SplitMix64(seed: seed)
            return (1...10).map { Backoff.delay(retry: $0, base: self.base, max: self.max, using: &generator) }
        }
        #expect(sequence(seed: 42) == sequence(seed: 42))
        #expect(sequence(seed: 42) != sequence(seed: 43))
    }
}
