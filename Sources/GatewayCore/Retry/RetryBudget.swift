import Synchronization

/// Caps the retries sent to one upstream at a fraction of its requests, over a sliding 10 s window.
///
/// Retries help when failures are rare and independent; when a whole upstream is down they multiply the load on
/// it by the number of attempts, just when it can least take it. The budget bounds that amplification
/// (the idea of Finagle's `RetryBudget` and Envoy's `retry_budget`).
///
/// **The rule.** Let `N` be the requests and `R` the retries recorded in the last ``window`` (10 s) at
/// ``bucketWidth`` (100 ms) granularity. A retry may be spent at time `t` iff
///
///     R(t) < ratio · N(t) + minPerSecond · 10
///
/// and spending it adds 1 to `R`. So in every 10 s window, at most `ratio · N + 10 · minPerSecond` retries are
/// made (rounded up, plus the retries whose requests left the window before them). When every request of an
/// upstream fails and `attempts` would allow each one `attempts - 1` retries, the upstream sees, per second,
/// `requests · (1 + ratio) + minPerSecond` tries in the steady state: 20% extra plus 10/s with the defaults —
/// instead of 200% extra.
///
/// **Counting.** `N` counts client requests — call ``recordRequest(now:)`` once per request, when its first try
/// starts — not tries: a retry is never a request, so it cannot raise its own budget. `minPerSecond` lets a quiet
/// upstream (a few requests a minute) still retry its occasional failure.
///
/// **Time.** The caller passes `now`; nothing here reads a clock. Instants earlier than the newest seen (threads
/// race to the lock) are counted in their own bucket while it is still inside the window; older than that, a
/// request is dropped and a retry counted in the newest bucket.
///
/// This is a value; the proxy shares one per upstream through ``SharedRetryBudget``.
public struct RetryBudget: Sendable {
    /// The length of the sliding window.
    public static let window: Duration = .seconds(10)
    /// The granularity at which old requests and retries leave the window.
    public static let bucketWidth: Duration = .milliseconds(100)
    /// The number of buckets in the window.
    public static let bucketCount = 100
    private static let bucketWidthNanoseconds: Int64 = 100_000_000
    private static let windowSeconds: Double = 10

    private struct Bucket: Sendable {
        var requests: Int = 0
        var retries: Int = 0
    }

    /// The share of requests that may be retried (0.2 = 20%).
    public let ratio: Double
    /// Retries allowed per second regardless of the request count.
    public let minPerSecond: Int

    /// All instants are measured from this one, so the bucket numbers stay small.
    private let origin: ContinuousClock.Instant
    /// Ring of ``bucketCount`` buckets; bucket number `k` lives at `k mod bucketCount`.
    private var buckets: [Bucket]
    /// The newest bucket number seen; the window is the bucket numbers `(newest - bucketCount, newest]`.
    private var newest: Int64 = 0
    private var requestsInWindow = 0
    private var retriesInWindow = 0

    /// - Parameters:
    ///   - ratio: The share of requests that may be retried; negative values are treated as zero.
    ///   - minPerSecond: Retries allowed per second on top of the ratio; negative values are treated as zero.
    ///   - now: Any instant; later calls must pass instants from the same clock.
    public init(ratio: Double, minPerSecond: Int, now: ContinuousClock.Instant) {
        self.ratio = ratio.isFinite ? Swift.max(0, ratio) : 0
        self.minPerSecond = Swift.max(0, minPerSecond)
        self.origin = now
        self.buckets = Array(repeating: Bucket(), count: Self.bucketCount)
    }

    /// A budget with an upstream's `retry.budget` settings.
    public init(configuration: RetryConfiguration, now: ContinuousClock.Instant) {
        self.init(ratio: configuration.budgetRatio, minPerSecond: configuration.budgetMinPerSecond, now: now)
    }

    /// The most retries the window may hold: `ratio · N + minPerSecond · 10` (not rounded).
    public var limit: Double {
        self.ratio * Double(self.requestsInWindow) + Double(self.minPerSecond) * Self.windowSeconds
    }

    /// Requests recorded in the window as of the last call that passed a `now`.
    public var requests: Int { self.requestsInWindow }

    /// Retries spent in the window as of the last call that passed a `now`.
    public var retries: Int { self.retriesInWindow }

    /// Counts one client request (its first try) towards the budget.
    public mutating func recordRequest(now: ContinuousClock.Instant) {
        guard let slot = self.slot(now: now) else { return }
        self.buckets[slot].requests += 1
        self.requestsInWindow += 1
    }

    /// Spends one retry if the budget allows it.
    ///
    /// - Returns: `true` if the retry may be made (and it has been counted); `false` if the budget is exhausted
    ///   (nothing is counted).
    public mutating func spendRetry(now: ContinuousClock.Instant) -> Bool {
        // A retry at an instant older than the window still counts, in the newest bucket: never a free retry.
        let slot = self.slot(now: now) ?? self.index(of: self.newest)
        guard Double(self.retriesInWindow) < self.limit else { return false }
        self.buckets[slot].retries += 1
        self.retriesInWindow += 1
        return true
    }

    /// Whether a retry could be spent now, without spending it (for metrics and logs; the proxy should call
    /// ``spendRetry(now:)``, which decides and counts in one step).
    public mutating func canRetry(now: ContinuousClock.Instant) -> Bool {
        _ = self.slot(now: now)
        return Double(self.retriesInWindow) < self.limit
    }

    /// Slides the window to `now` and returns the ring index where an event at `now` is counted, or nil when `now`
    /// is older than the window.
    private mutating func slot(now: ContinuousClock.Instant) -> Int? {
        let elapsed = (now - self.origin).nanosecondsClamped
        // Floor division, so instants before `origin` get negative bucket numbers instead of sharing bucket 0.
        var number = elapsed / Self.bucketWidthNanoseconds
        if elapsed % Self.bucketWidthNanoseconds < 0 { number -= 1 }
        let count = Int64(Self.bucketCount)
        if number > self.newest {
            if number - self.newest >= count {
                self.buckets = Array(repeating: Bucket(), count: Self.bucketCount)
                self.requestsInWindow = 0
                self.retriesInWindow = 0
            } else {
                var expired = self.newest + 1
                while expired <= number {
                    let index = self.index(of: expired)
                    self.requestsInWindow -= self.buckets[index].requests
                    self.retriesInWindow -= self.buckets[index].retries
                    self.buckets[index] = Bucket()
                    expired += 1
                }
            }
            self.newest = number
        }
        guard number > self.newest - count else { return nil }
        return self.index(of: number)
    }

    private func index(of number: Int64) -> Int {
        let count = Int64(Self.bucketCount)
        return Int(((number % count) + count) % count)
    }
}

/// One upstream's ``RetryBudget``, shared by all the requests in flight to it.
///
/// Each method takes the lock, decides and counts, and returns; nothing else runs under the lock.
public final class SharedRetryBudget: Sendable {
    private let budget: Mutex<RetryBudget>

    public init(_ budget: RetryBudget) {
        self.budget = Mutex(budget)
    }

    /// A budget with an upstream's `retry.budget` settings.
    public convenience init(configuration: RetryConfiguration, now: ContinuousClock.Instant) {
        self.init(RetryBudget(configuration: configuration, now: now))
    }

    /// Counts one client request (its first try); see ``RetryBudget/recordRequest(now:)``.
    public func recordRequest(now: ContinuousClock.Instant) {
        self.budget.withLock { $0.recordRequest(now: now) }
    }

    /// Spends one retry if the budget allows it; see ``RetryBudget/spendRetry(now:)``.
    public func spendRetry(now: ContinuousClock.Instant) -> Bool {
        self.budget.withLock { $0.spendRetry(now: now) }
    }

    /// A copy of the budget's current state, for metrics and tests.
    public var snapshot: RetryBudget {
        self.budget.withLock { $0 }
    }
}
