/// The wait before a retry: exponential growth with "full jitter".
///
/// Retry `n` (1 = the first retry, i.e. the wait after the first try failed) waits a uniformly random duration
/// in `[0, cap(n)]` where `cap(n) = min(max, base · 2^(n-1))`. Full jitter spreads the retries of many clients that
/// failed at the same moment over the whole interval, so they do not come back as one synchronized wave
/// (see "Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
///
/// With the defaults (`base: 100ms`, `max: 2s`) the caps are:
///   - retry 1: 100ms
///   - retry 2: 200ms
///   - retry 3: 400ms
///   - retry 4: 800ms
///   - retry 5: 1.6s
///   - retry 6 and later: 2s
///
/// The arithmetic is done in whole nanoseconds and never overflows: `base · 2^(n-1)` is compared with `max`
/// before it is computed, so any `n` (even `Int.max`) yields `max`.
public enum Backoff {
    /// The upper bound of the wait before retry `retry` (1 = the first retry): `min(max, base · 2^(retry-1))`.
    ///
    /// - Parameters:
    ///   - retry: The retry about to be made, 1-based. Values below 1 are treated as 1.
    ///   - base: The cap of the first retry. Negative values are treated as zero.
    ///   - max: The cap no retry exceeds. Negative values are treated as zero.
    /// - Returns: The cap, between zero and `max`, with nanosecond precision.
    public static func cap(retry: Int, base: Duration, max: Duration) -> Duration {
        .nanoseconds(self.capNanoseconds(retry: retry, base: base, max: max))
    }

    /// A random wait before retry `retry` (1 = the first retry), uniform in `[0, cap(retry)]`.
    ///
    /// - Parameters:
    ///   - retry: The retry about to be made, 1-based. Values below 1 are treated as 1.
    ///   - base: The cap of the first retry.
    ///   - max: The cap no retry exceeds.
    ///   - generator: The source of randomness; tests pass a seeded generator, the proxy a
    ///     `SystemRandomNumberGenerator`.
    /// - Returns: The wait, between zero and ``cap(retry:base:max:)`` inclusive.
    public static func delay(
        retry: Int,
        base: Duration,
        max: Duration,
        using generator: inout some RandomNumberGenerator
    ) -> Duration {
        let cap = self.capNanoseconds(retry: retry, base: base, max: max)
        guard cap > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...cap, using: &generator))
    }

    private static func capNanoseconds(retry: Int, base: Duration, max: Duration) -> Int64 {
        let base = Swift.max(0, base.nanosecondsClamped)
        let max = Swift.max(0, max.nanosecondsClamped)
        let exponent = retry > 1 ? retry - 1 : 0
        // base · 2^exponent <= max  <=>  base <= max >> exponent (for non-negative integers), so the shift below
        // happens only when its result fits.
        guard exponent < Int64.bitWidth - 1, base <= max >> exponent else { return max }
        return base << exponent
    }
}

extension Duration {
    /// This duration in whole nanoseconds (truncated toward zero), saturating at `Int64.min` / `Int64.max`
    /// (about ±292 years) instead of trapping. The one conversion the gateway's modules share (backoff, the retry
    /// budget's buckets, metrics).
    package var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = self.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowSum) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflowSum { return seconds < 0 ? .min : .max }
        return sum
    }
}
