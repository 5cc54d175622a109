/// One bucket a request must take a token from: a policy and the key it is counted by.
public struct RateLimitBucket: Sendable, Hashable {
    public var policy: RateLimitPolicy
    /// The value the policy counts by (a client IP, a header value, a route name, or "" for `global`).
    public var key: String

    public init(policy: RateLimitPolicy, key: String) {
        self.policy = policy
        self.key = key
    }
}

/// The state of one bucket after a decision, as the rate-limit headers report it.
public struct RateLimitBucketState: Sendable, Hashable {
    public var policy: RateLimitPolicy
    /// Whole tokens left after this request.
    public var remaining: Int
    /// Time until the bucket is full again.
    public var resetAfter: Duration

    public init(policy: RateLimitPolicy, remaining: Int, resetAfter: Duration) {
        self.policy = policy
        self.remaining = remaining
        self.resetAfter = resetAfter
    }
}

/// The answer of a store for all of one request's buckets.
public enum RateLimitDecision: Sendable, Hashable {
    /// Every bucket had a token, and one was taken from each.
    case allowed([RateLimitBucketState])
    /// At least one bucket was empty; no token was taken from any. `retryAfter` is the time until every
    /// denying bucket has a token again.
    case denied([RateLimitBucketState], retryAfter: Duration)
    /// The store could not be asked (a shared store that does not answer).
    case storeUnavailable
}

/// Where token buckets live. Every bucket of a request is checked and consumed atomically: all or none.
public protocol RateLimitStore: Sendable {
    func acquire(_ buckets: [RateLimitBucket]) async -> RateLimitDecision
}
