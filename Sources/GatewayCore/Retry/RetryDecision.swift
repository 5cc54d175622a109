public import HTTPTypes

/// How one try at an upstream ended, as the retry policy needs to know it.
public enum RetryOutcome: Sendable, Hashable {
    /// The upstream sent a response head with this status. `retryHintSeconds` is how long the upstream asked to
    /// wait, if it said (see ``RetryHint/seconds(status:headers:nowUnixSeconds:)``).
    case response(status: Int, retryHintSeconds: Int?)
    /// No response head arrived.
    case transportFailure(UpstreamError.Code)

    /// A response outcome with the hint read from the response's headers by ``RetryHint``: `Retry-After` (seconds
    /// or HTTP-date), an exhausted `RateLimit` item's `t=`, `X-RateLimit-Reset` on a 429 or with
    /// `X-RateLimit-Remaining: 0`, `X-Quota-Reset` with `X-Quota-Remaining: 0`.
    ///
    /// - Parameters:
    ///   - status: The response status.
    ///   - headers: The response header fields.
    ///   - nowUnixSeconds: The wall-clock time, for HTTP-dates and Unix-time resets.
    public static func response(status: Int, headers: HTTPFields, nowUnixSeconds: Int) -> RetryOutcome {
        .response(
            status: status,
            retryHintSeconds: RetryHint.seconds(status: status, headers: headers, nowUnixSeconds: nowUnixSeconds)
        )
    }
}

/// What the proxy does after a try that produced no final answer.
public enum RetryDecision: Sendable, Hashable {
    /// Wait `after` (it fits before the request deadline), then try again. The retry has already been counted in
    /// the budget.
    case retry(after: Duration, reason: RetryReason)
    /// Send the last try's result to the client (an upstream error response normalized, or a gateway-made 502/504).
    case giveUp(reason: GiveUpReason)
}

/// Why a retry is made. A bounded set: ``description`` is the `reason` label of `gateway_retries_total`.
///
/// | case | label | the try that failed |
/// | --- | --- | --- |
/// | ``connectFailure`` | `connect_failure` | refused, unreachable, DNS failure: it never left |
/// | ``timeout`` | `timeout` | no response head within `per_try` (or the connect timeout) |
/// | ``reset`` | `reset` | the connection broke, or closed empty, before a response head |
/// | ``rateLimited`` | `rate_limited` | a 429 listed in `retry_on` |
/// | ``serverError`` | `status_5xx` | a 5xx listed in `retry_on` |
/// | ``otherStatus`` | `status_other` | any other status listed in `retry_on` (such as 408) |
public enum RetryReason: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case connectFailure = "connect_failure"
    case timeout
    case reset
    case rateLimited = "rate_limited"
    case serverError = "status_5xx"
    case otherStatus = "status_other"

    /// The stable label, safe for metrics and logs.
    public var description: String { self.rawValue }
}

/// Why no retry is made. ``description`` is a bounded, stable label for logs and metrics:
///
/// - `not_retryable` (``notRetryable``): not in `retry_on`, or never retried (TLS failure, protocol error,
///   cancelled or refused transfer, status below 400).
/// - `unsafe_method` (``unsafeMethod``): `idempotent_only`, a non-idempotent method, no `Idempotency-Key`, and the
///   request may have reached the upstream.
/// - `attempts_exhausted` (``attemptsExhausted``): `attempts` tries were made.
/// - `retry_after_too_long` (``retryAfterTooLong(seconds:)``): the upstream asked to wait longer than
///   `max_retry_after`; the client gets `retry_after` = `seconds` (and the same `Retry-After`).
/// - `deadline_exceeded` (``deadlineExceeded``): the wait would end at or after the `timeouts.request` deadline.
/// - `budget_exhausted` (``budgetExhausted``): the upstream's retry budget is spent.
public enum GiveUpReason: Sendable, Hashable, CustomStringConvertible {
    case notRetryable
    case unsafeMethod
    case attemptsExhausted
    case retryAfterTooLong(seconds: Int)
    case deadlineExceeded
    case budgetExhausted

    /// Every label ``description`` can take.
    public static let labels = [
        "not_retryable", "unsafe_method", "attempts_exhausted", "retry_after_too_long",
        "deadline_exceeded", "budget_exhausted",
    ]

    /// The stable label, safe for metrics and logs (the seconds of ``retryAfterTooLong(seconds:)`` are left out).
    public var description: String {
        switch self {
        case .notRetryable: return "not_retryable"
        case .unsafeMethod: return "unsafe_method"
        case .attemptsExhausted: return "attempts_exhausted"
        case .retryAfterTooLong: return "retry_after_too_long"
        case .deadlineExceeded: return "deadline_exceeded"
        case .budgetExhausted: return "budget_exhausted"
        }
    }
}
