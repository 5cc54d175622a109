/// The generic cell rate algorithm for one token-bucket policy: the same behaviour as a bucket of `burst` tokens
/// refilled at one token per emission interval, kept as a single number per bucket, its "theoretical arrival
/// time" (TAT).
///
/// With emission interval `T = period / count` and tolerance `τ = T × burst` (the time a whole bucket takes to
/// refill), a request at `now` is allowed when `max(TAT, now) + T - now <= τ`, and then `TAT` becomes
/// `max(TAT, now) + T`. A bucket whose `TAT <= now` is full, which is why a full bucket needs no stored state.
///
/// All times are integer nanoseconds on one clock chosen by the caller (monotonic in the memory store); the
/// arithmetic is exact, so tests can predict every decision.
public struct GCRA: Sendable, Hashable {
    /// `T`: the time one token takes to come back, in nanoseconds (at least 1).
    public let emissionInterval: Int64
    /// The bucket's capacity in tokens.
    public let burst: Int
    /// `τ = T × burst`: the time an empty bucket takes to become full, in nanoseconds.
    public let tolerance: Int64

    /// - Parameters:
    ///   - rate: tokens per period; `T = period / count`, rounded down to whole nanoseconds.
    ///   - burst: the bucket's capacity (at least 1).
    public init(rate: Rate, burst: Int) {
        let period = Self.nanoseconds(rate.period)
        self.emissionInterval = max(1, period / Int64(max(1, rate.count)))
        self.burst = max(1, burst)
        let (product, overflow) = self.emissionInterval.multipliedReportingOverflow(by: Int64(self.burst))
        self.tolerance = overflow ? Int64.max / 4 : product
    }

    /// The arithmetic of `policy`'s rate and burst.
    public init(policy: RateLimitPolicy) {
        self.init(rate: policy.rate, burst: policy.burst)
    }

    /// What one check of one bucket found.
    public struct Outcome: Sendable, Hashable {
        /// Whether the bucket had a token.
        public var allowed: Bool
        /// The TAT to store if the token is taken (only meaningful when `allowed`).
        public var newTAT: Int64
        /// Whole tokens left: after taking one if allowed, as it stands if denied.
        public var remaining: Int
        /// Nanoseconds until the bucket is full: after taking the token if allowed, as it stands if denied.
        public var resetAfter: Int64
        /// Nanoseconds until one token is back (0 when allowed).
        public var retryAfter: Int64
    }

    /// Checks one bucket whose stored TAT is `tat` (nil: no entry, a full bucket) at `now`.
    public func check(tat: Int64?, now: Int64) -> Outcome {
        let base = max(tat ?? now, now)
        let newTAT = base &+ self.emissionInterval
        if newTAT - now <= self.tolerance {
            return Outcome(
                allowed: true, newTAT: newTAT,
                remaining: Int((self.tolerance - (newTAT - now)) / self.emissionInterval),
                resetAfter: newTAT - now, retryAfter: 0
            )
        }
        return Outcome(
            allowed: false, newTAT: newTAT,
            remaining: Int(max(0, self.tolerance - (base - now)) / self.emissionInterval),
            resetAfter: base - now, retryAfter: newTAT - self.tolerance - now
        )
    }

    /// The state of a bucket for the headers, without a request: whole tokens and time until full.
    public func peek(tat: Int64?, now: Int64) -> (remaining: Int, resetAfter: Int64) {
        let base = max(tat ?? now, now)
        return (Int(max(0, self.tolerance - (base - now)) / self.emissionInterval), base - now)
    }

    /// Whole nanoseconds of a duration (saturating).
    public static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min / 4 : Int64.max / 4 }
        return whole &+ attoseconds / 1_000_000_000
    }
}

/// The combined decision of several buckets checked at once: all allowed, or none consumed.
///
/// A pure function over already-read TATs, shared by the stores: the memory store calls it while holding the
/// locks of every shard involved, then writes `newTATs` only when `allowed`.
public struct GCRAMultiDecision: Sendable, Hashable {
    /// Whether every bucket had a token.
    public var allowed: Bool
    /// Per bucket, in the order given: the TAT to store when `allowed`.
    public var newTATs: [Int64]
    /// Per bucket, in the order given: the state to report in the headers.
    public var states: [RateLimitBucketState]
    /// When denied: nanoseconds until every denying bucket has a token again (the maximum over them).
    public var retryAfter: Int64

    /// Checks `buckets` (each a policy with its stored TAT, nil for none) at `now`.
    public init(checking buckets: [(policy: RateLimitPolicy, gcra: GCRA, tat: Int64?)], now: Int64) {
        var outcomes: [GCRA.Outcome] = []
        outcomes.reserveCapacity(buckets.count)
        var allowed = true
        var retryAfter: Int64 = 0
        for bucket in buckets {
            let outcome = bucket.gcra.check(tat: bucket.tat, now: now)
            if !outcome.allowed {
                allowed = false
                retryAfter = max(retryAfter, outcome.retryAfter)
            }
            outcomes.append(outcome)
        }
        self.allowed = allowed
        self.retryAfter = retryAfter
        self.newTATs = outcomes.map(\.newTAT)
        var states: [RateLimitBucketState] = []
        states.reserveCapacity(buckets.count)
        for (index, bucket) in buckets.enumerated() {
            let outcome = outcomes[index]
            if allowed {
                states.append(
                    RateLimitBucketState(
                        policy: bucket.policy, remaining: outcome.remaining,
                        resetAfter: .nanoseconds(outcome.resetAfter)
                    )
                )
            } else {
                // Nothing is consumed from any bucket: report each as it stands.
                let peeked = bucket.gcra.peek(tat: bucket.tat, now: now)
                states.append(
                    RateLimitBucketState(
                        policy: bucket.policy, remaining: peeked.remaining, resetAfter: .nanoseconds(peeked.resetAfter)
                    )
                )
            }
        }
        self.states = states
    }

    /// The store-independent decision value.
    public var decision: RateLimitDecision {
        self.allowed ? .allowed(self.states) : .denied(self.states, retryAfter: .nanoseconds(self.retryAfter))
    }

    /// What `init(checking:)` and ``decision`` give for one bucket, without the arrays that serve several: the
    /// decision, and the TAT to store when it allows.
    public static func single(
        policy: RateLimitPolicy, tat: Int64?, now: Int64
    ) -> (decision: RateLimitDecision, newTAT: Int64?) {
        let gcra = GCRA(policy: policy)
        let outcome = gcra.check(tat: tat, now: now)
        guard outcome.allowed else {
            let peeked = gcra.peek(tat: tat, now: now)
            let state = RateLimitBucketState(
                policy: policy, remaining: peeked.remaining, resetAfter: .nanoseconds(peeked.resetAfter))
            return (.denied([state], retryAfter: .nanoseconds(max(0, outcome.retryAfter))), nil)
        }
        let state = RateLimitBucketState(
            policy: policy, remaining: outcome.remaining, resetAfter: .nanoseconds(outcome.resetAfter))
        return (.allowed([state]), outcome.newTAT)
    }
}
