import GatewayCore
import Testing

@Suite("RetryBudget")
struct RetryBudgetTests {
    /// Any instant will do: the budget only looks at differences from the one it was created with.
    private let start = ContinuousClock.now

    /// 100 requests/s for `seconds`, every try failing, each request allowed `attempts - 1` retries made at once.
    /// Returns the retries granted per whole second.
    private func simulateOutage(
        seconds: Int,
        attempts: Int = 3,
        configuration: RetryConfiguration = .init()
    ) -> [Int] {
        var budget = RetryBudget(configuration: configuration, now: self.start)
        var perSecond = Array(repeating: 0, count: seconds)
        for tick in 0..<(seconds * 100) {
            let now = self.start + .milliseconds(10 * tick)
            budget.recordRequest(now: now)
            for _ in 1..<attempts {
                guard budget.spendRetry(now: now) else { break }
                perSecond[tick / 100] += 1
            }
        }
        return perSecond
    }

    @Test("a whole upstream failing: the first 10 s get exactly 20% of the requests plus 10/s of retries")
    func outageFirstWindow() {
        let perSecond = self.simulateOutage(seconds: 10)
        // 1000 requests; limit = 0.2 · 1000 + 10 · 10 = 300. Without a budget: 2000 retries.
        #expect(perSecond.reduce(0, +) == 300)
        // The 100 floor retries go first, the rest follow the requests: 20/s.
        #expect(perSecond[0] == 120)
        #expect(perSecond.dropFirst().allSatisfy { $0 == 20 }, "\(perSecond)")
    }

    @Test("a long outage settles at ratio · requests + min_per_second retries per second")
    func outageSteadyState() {
        let perSecond = self.simulateOutage(seconds: 60)
        // Any 10 s window after the first holds at most 300 retries, and the demand (200/s) keeps it full.
        for first in 10...50 {
            let window = perSecond[first..<(first + 10)].reduce(0, +)
            #expect((290...301).contains(window), "window from \(first) s: \(window)")
        }
        // The extra load stays near 30 retries/s = 20% of 100 req/s + 10/s.
        let lastHalf = Double(perSecond[30..<60].reduce(0, +)) / 30
        #expect(abs(lastHalf - 30) < 1, "\(lastHalf) retries/s")
    }

    @Test("the extra load of an outage follows the ratio", arguments: [0.1, 0.2, 0.5])
    func outageRatio(ratio: Double) {
        let configuration = RetryConfiguration(budgetRatio: ratio, budgetMinPerSecond: 0)
        let perSecond = self.simulateOutage(seconds: 10, configuration: configuration)
        #expect(perSecond.reduce(0, +) == Int((ratio * 1000).rounded()))
    }

    @Test("with no requests, min_per_second · 10 retries fit the window")
    func floorAlone() {
        var budget = RetryBudget(ratio: 0.2, minPerSecond: 10, now: self.start)
        for index in 0..<100 {
            #expect(budget.spendRetry(now: self.start) == true, "retry \(index)")
        }
        #expect(budget.spendRetry(now: self.start) == false)
        #expect(budget.canRetry(now: self.start) == false)
        #expect(budget.retries == 100)
        // A refused retry is not counted.
        #expect(budget.spendRetry(now: self.start + .seconds(9)) == false)
        #expect(budget.retries == 100)
    }

    @Test("requests and retries leave the window 10 s after their bucket")
    func windowSlides() {
        var budget = RetryBudget(ratio: 0.2, minPerSecond: 0, now: self.start)
        for _ in 0..<50 { budget.recordRequest(now: self.start) }
        for _ in 0..<50 { budget.recordRequest(now: self.start + .seconds(5)) }
        // At 5 s: 100 requests → 20 retries.
        for _ in 0..<20 { #expect(budget.spendRetry(now: self.start + .seconds(5)) == true) }
        #expect(budget.spendRetry(now: self.start + .seconds(5)) == false)
        #expect(budget.limit == 20)

        // Just before 10 s, the first 50 requests are still in.
        #expect(budget.canRetry(now: self.start + .milliseconds(9_999)) == false)
        #expect(budget.requests == 100)
        // At 10 s they are out: limit 10, but the 20 retries of 5 s still count.
        #expect(budget.spendRetry(now: self.start + .seconds(10)) == false)
        #expect(budget.requests == 50)
        #expect(budget.retries == 20)
        // At 15 s everything is out.
        #expect(budget.spendRetry(now: self.start + .seconds(15)) == false)
        #expect(budget.requests == 0 && budget.retries == 0)
        budget.recordRequest(now: self.start + .seconds(15))
        budget.recordRequest(now: self.start + .seconds(15))
        budget.recordRequest(now: self.start + .seconds(15))
        budget.recordRequest(now: self.start + .seconds(15))
        budget.recordRequest(now: self.start + .seconds(15))
        // 0.2 · 5 = 1 retry.
        #expect(budget.spendRetry(now: self.start + .seconds(15)) == true)
        #expect(budget.spendRetry(now: self.start + .seconds(15)) == false)
    }

    @Test("a jump longer than the window clears everything")
    func longJump() {
        var budget = RetryBudget(ratio: 0.5, minPerSecond: 1, now: self.start)
        for _ in 0..<40 { budget.recordRequest(now: self.start) }
        while budget.spendRetry(now: self.start) {}
        #expect(budget.retries == 30)
        let later = self.start + .seconds(3600)
        #expect(budget.canRetry(now: later) == true)
        #expect(budget.requests == 0 && budget.retries == 0)
    }

    @Test("an instant older than the newest counts in its own bucket while it is inside the window")
    func lateInstants() {
        var budget = RetryBudget(ratio: 1, minPerSecond: 0, now: self.start)
        budget.recordRequest(now: self.start + .seconds(20))
        // 5 s late: inside the window, so counted, in the bucket of 15 s (which leaves the window at 25 s).
        budget.recordRequest(now: self.start + .seconds(15))
        #expect(budget.requests == 2)
        // 15 s late: outside the window, dropped.
        budget.recordRequest(now: self.start + .seconds(5))
        #expect(budget.requests == 2)
        // At 25 s the request of 15 s is gone, the one of 20 s stays.
        #expect(budget.canRetry(now: self.start + .seconds(25)) == true)
        #expect(budget.requests == 1)
        // A retry at a stale instant is still counted (never a free retry).
        #expect(budget.spendRetry(now: self.start) == true)
        #expect(budget.retries == 1)
        #expect(budget.spendRetry(now: self.start + .seconds(25)) == false)
    }

    @Test("instants before the budget's creation are handled")
    func instantsBeforeOrigin() {
        var budget = RetryBudget(ratio: 1, minPerSecond: 0, now: self.start)
        budget.recordRequest(now: self.start - .milliseconds(50))
        #expect(budget.requests == 1)
        #expect(budget.spendRetry(now: self.start - .milliseconds(50)) == true)
        #expect(budget.spendRetry(now: self.start) == false)
    }

    @Test("the shared budget grants exactly the limit to many concurrent callers")
    func sharedConcurrent() async {
        let budget = SharedRetryBudget(RetryBudget(ratio: 0.2, minPerSecond: 10, now: self.start))
        let now = self.start + .seconds(1)
        for _ in 0..<500 { budget.recordRequest(now: now) }
        // limit = 0.2 · 500 + 100 = 200
        let granted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var count = 0
                    for _ in 0..<100 where budget.spendRetry(now: now) { count += 1 }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(granted == 200)
        #expect(budget.snapshot.retries == 200)
        #expect(budget.snapshot.requests == 500)
    }

    @Test("negative settings are treated as zero")
    func negativeSettings() {
        var budget = RetryBudget(ratio: -1, minPerSecond: -5, now: self.start)
        budget.recordRequest(now: self.start)
        #expect(budget.limit == 0)
        #expect(budget.spendRetry(now: self.start) == false)
        var nan = RetryBudget(ratio: .nan, minPerSecond: 1, now: self.start)
        #expect(nan.limit == 10)
        #expect(nan.spendRetry(now: self.start) == true)
    }
}
