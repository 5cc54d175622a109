public import HTTPTypes

/// The rate-limit headers of SPEC section 4, as pure functions of bucket states: what the gateway adds to every
/// response of a route with policies, and how it combines them with an upstream's own rate-limit headers.
///
/// - `X-RateLimit-Limit` / `-Remaining` / `-Reset`: the most restrictive bucket's capacity, whole tokens left,
///   and the Unix time (seconds, rounded up) at which it is full again.
/// - `RateLimit-Policy: "per_client";q=20;w=12, …`: every policy (q = burst, w = seconds to refill a whole
///   bucket, rounded up, at least 1), draft-ietf-httpapi-ratelimit-headers syntax.
/// - `RateLimit: "per_client";r=0;t=12`: the most restrictive bucket (r = tokens left, t = seconds until full,
///   rounded up).
///
/// "Most restrictive" is the bucket with the fewest tokens left; on a tie, the one that takes longer to be full
/// again (then the one with the longer whole-bucket refill, then the first).
public enum RateLimitHeaders {
    /// The headers for `states` (one per policy of the route, in the route's order). Empty for no states.
    public static func render(_ states: [RateLimitBucketState], nowUnixSeconds: Int) -> [HTTPField] {
        guard let index = self.mostRestrictiveIndex(states) else { return [] }
        let state = states[index]
        return self.xRateLimitFields(state, nowUnixSeconds: nowUnixSeconds) + [
            HTTPField(name: RetryHint.rateLimitPolicy, value: self.policyList(states)),
            HTTPField(name: RetryHint.rateLimit, value: self.rateLimitItem(state)),
        ]
    }

    /// `Retry-After` (and `retry_after`) of a denial: whole seconds until one token is back, rounded up, at least 1.
    public static func retryAfterSeconds(_ retryAfter: Duration) -> Int {
        RetryHint.headerSeconds(for: retryAfter)
    }

    /// An upstream response's headers with the gateway's rate-limit picture added, never looser than the
    /// upstream's own (SPEC section 4).
    ///
    /// - With no gateway states (a route without policies) the upstream's fields pass untouched.
    /// - `X-RateLimit-*` (any case, e.g. GitHub's `x-ratelimit-*`): the upstream's triple stays when its
    ///   `X-RateLimit-Remaining` is lower than the gateway's, or equal with a `X-RateLimit-Reset` (Unix time or
    ///   seconds from now) at least as late, or unreadable (what cannot be compared is not replaced); otherwise
    ///   the upstream's `X-RateLimit-Limit/-Remaining/-Reset` are replaced by the gateway's.
    /// - The gateway's items are appended to the upstream's `RateLimit-Policy` and `RateLimit` lists (or make them).
    /// - Everything else (`X-Quota-*`, `Retry-After`, older IETF `RateLimit-Limit/-Remaining/-Reset`) is untouched.
    public static func merge(upstream: HTTPFields, gateway: [RateLimitBucketState], nowUnixSeconds: Int) -> HTTPFields {
        guard let index = self.mostRestrictiveIndex(gateway) else { return upstream }
        let state = gateway[index]
        var fields = upstream
        var keepUpstream = false
        if let text = upstream[RetryHint.xRateLimitRemaining] {
            if let upstreamRemaining = Int(Substring(text).trimmingASCIIWhitespace()) {
                if upstreamRemaining < state.remaining {
                    keepUpstream = true
                } else if upstreamRemaining == state.remaining {
                    let upstreamReset = upstream[RetryHint.xRateLimitReset].flatMap {
                        RetryHint.reset($0, nowUnixSeconds: nowUnixSeconds)
                    }
                    keepUpstream = (upstreamReset ?? 0) >= self.secondsRoundedUp(state.resetAfter)
                }
            } else {
                keepUpstream = true
            }
        }
        if !keepUpstream {
            fields[RetryHint.xRateLimitLimit] = nil
            fields[RetryHint.xRateLimitRemaining] = nil
            fields[RetryHint.xRateLimitReset] = nil
            fields.append(contentsOf: self.xRateLimitFields(state, nowUnixSeconds: nowUnixSeconds))
        }
        self.appendItems(self.policyList(gateway), to: RetryHint.rateLimitPolicy, in: &fields)
        self.appendItems(self.rateLimitItem(state), to: RetryHint.rateLimit, in: &fields)
        return fields
    }

    /// The index of the most restrictive state, or nil for none.
    public static func mostRestrictiveIndex(_ states: [RateLimitBucketState]) -> Int? {
        guard var best = states.indices.first else { return nil }
        for index in states.indices.dropFirst() {
            let candidate = states[index]
            let current = states[best]
            if candidate.remaining != current.remaining {
                if candidate.remaining < current.remaining { best = index }
            } else if candidate.resetAfter != current.resetAfter {
                if candidate.resetAfter > current.resetAfter { best = index }
            } else if GCRA(policy: candidate.policy).tolerance > GCRA(policy: current.policy).tolerance {
                best = index
            }
        }
        return best
    }

    /// `w`: seconds a whole bucket of `policy` takes to refill, rounded up, at least 1.
    public static func windowSeconds(_ policy: RateLimitPolicy) -> Int {
        let nanoseconds = GCRA(policy: policy).tolerance
        return max(1, Int((nanoseconds + 999_999_999) / 1_000_000_000))
    }

    private static func xRateLimitFields(_ state: RateLimitBucketState, nowUnixSeconds: Int) -> [HTTPField] {
        [
            HTTPField(name: RetryHint.xRateLimitLimit, value: String(state.policy.burst)),
            HTTPField(name: RetryHint.xRateLimitRemaining, value: String(max(0, state.remaining))),
            HTTPField(
                name: RetryHint.xRateLimitReset,
                value: String(nowUnixSeconds + self.secondsRoundedUp(state.resetAfter))
            ),
        ]
    }

    private static func policyList(_ states: [RateLimitBucketState]) -> String {
        var value = ""
        for (index, state) in states.enumerated() {
            if index > 0 { value += ", " }
            value += self.quoted(state.policy.name)
            value += ";q=\(state.policy.burst);w=\(self.windowSeconds(state.policy))"
        }
        return value
    }

    private static func rateLimitItem(_ state: RateLimitBucketState) -> String {
        "\(self.quoted(state.policy.name));r=\(max(0, state.remaining));t=\(self.secondsRoundedUp(state.resetAfter))"
    }

    private static func appendItems(_ items: String, to name: HTTPField.Name, in fields: inout HTTPFields) {
        let existing = fields[fields: name].map(\.value).filter { !$0.isEmpty }
        fields[name] = (existing + [items]).joined(separator: ", ")
    }

    /// A structured-field string (RFC 9651 section 3.3.3): `"` and `\` escaped.
    private static func quoted(_ name: String) -> String {
        var result = "\""
        for character in name {
            if character == "\"" || character == "\\" { result.append("\\") }
            result.append(character)
        }
        result.append("\"")
        return result
    }

    static func secondsRoundedUp(_ duration: Duration) -> Int {
        let nanoseconds = max(0, GCRA.nanoseconds(duration))
        return Int((nanoseconds + 999_999_999) / 1_000_000_000)
    }
}
