public import HTTPTypes

/// Decides, after each try at an upstream, whether to try again and how long to wait first (SPEC section 2,
/// `retry` and `timeouts`).
///
/// Pure: the elapsed time, the randomness and the budget are passed in, so every rule is tested without waiting.
///
/// The rules, checked in this order (the first that applies gives up):
///  1. The outcome must be retryable and listed in `retry_on` (``GiveUpReason/notRetryable``):
///     - `connect_failure`: ``UpstreamError/Code/connectFailed``, ``UpstreamError/Code/dnsFailed``;
///     - `timeout`: ``UpstreamError/Code/timedOut``;
///     - `reset`: ``UpstreamError/Code/connectionReset``, ``UpstreamError/Code/gotNothing``;
///     - a status `>= 400` listed as such.
///     A TLS failure, a protocol error, a cancelled or refused transfer and a status below 400 are never retried.
///  2. With `idempotent_only`, the method must be idempotent (RFC 9110 section 9.2.2: GET, HEAD, OPTIONS, TRACE,
///     PUT, DELETE), or the request must carry `Idempotency-Key`, or the failure must prove the request never left
///     (connect or DNS failure) (``GiveUpReason/unsafeMethod``).
///  3. Fewer than `attempts` tries so far (``GiveUpReason/attemptsExhausted``).
///  4. The wait: the upstream's own hint when it gave one (`Retry-After` and friends, see ``RetryOutcome``) — given
///     up at once if above `max_retry_after` (``GiveUpReason/retryAfterTooLong(seconds:)``) — else
///     ``Backoff/delay(retry:base:max:using:)`` for retry number `finishedAttempt`.
///  5. The wait must end before the `timeouts.request` deadline (``GiveUpReason/deadlineExceeded``).
///  6. The upstream's ``RetryBudget`` must allow one more retry (``GiveUpReason/budgetExhausted``). It is asked last,
///     and only then, so a retry that rules 1–5 refuse never spends budget.
///
/// A try is only ever retried before any byte of its response went to the client: the gateway decides on a
/// response head and streams nothing of a response it may still retry.
///
/// ``RetryStateMachine`` drives it, one request at a time, together with the upstream's budget and circuit breaker.
public struct RetryPolicy: Sendable, Hashable {
    /// The `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-header): the client promises the
    /// upstream deduplicates, so a non-idempotent request may be sent again.
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    /// The upstream's `retry` settings.
    public var configuration: RetryConfiguration
    /// `timeouts.request`: no wait may run to or past this, counted from the start of the first try.
    public var requestTimeout: Duration

    public init(configuration: RetryConfiguration, requestTimeout: Duration) {
        self.configuration = configuration
        self.requestTimeout = requestTimeout
    }

    /// The policy of one upstream: its `retry` settings and its `timeouts.request`.
    public init(upstream: UpstreamConfiguration) {
        self.init(configuration: upstream.retry, requestTimeout: upstream.timeouts.request)
    }

    /// Whether a method is idempotent (RFC 9110 section 9.2.2): GET, HEAD, OPTIONS, TRACE, PUT, DELETE.
    public static func isIdempotent(_ method: HTTPRequest.Method) -> Bool {
        switch method {
        case .get, .head, .options, .trace, .put, .delete:
            return true
        default:
            return false
        }
    }

    /// The `retry_on` condition an outcome falls under, or nil if it is never retried (TLS failure, protocol
    /// error, cancelled or refused transfer, status below 400). Transport failures follow
    /// ``UpstreamError/Code/handling``.
    public static func condition(of outcome: RetryOutcome) -> RetryCondition? {
        switch outcome {
        case .response(let status, _):
            return status >= 400 ? .status(status) : nil
        case .transportFailure(let code):
            return code.handling.retryCondition
        }
    }

    /// Whether an outcome proves the request never reached the upstream (connect or DNS failure).
    public static func neverLeft(_ outcome: RetryOutcome) -> Bool {
        guard case .transportFailure(let code) = outcome else { return false }
        return code == .connectFailed || code == .dnsFailed
    }

    /// The metric reason of a retried condition.
    public static func reason(for condition: RetryCondition) -> RetryReason {
        switch condition {
        case .connectFailure: return .connectFailure
        case .timeout: return .timeout
        case .reset: return .reset
        case .status(429): return .rateLimited
        case .status(let status) where (500...599).contains(status): return .serverError
        case .status: return .otherStatus
        }
    }

    /// Decides what follows a try that did not produce a final answer.
    ///
    /// - Parameters:
    ///   - method: The request's method.
    ///   - hasIdempotencyKey: Whether the request carries ``idempotencyKey``.
    ///   - finishedAttempt: The number of the try that just ended (1 = the first try). A retry after it is retry
    ///     number `finishedAttempt` for the backoff.
    ///   - outcome: How that try ended.
    ///   - elapsed: Time since the first try started (the `timeouts.request` clock).
    ///   - generator: Randomness for the backoff jitter.
    ///   - spendBudget: Asks the upstream's retry budget for one retry and counts it if granted (normally
    ///     `{ budget.spendRetry(now: clock.now) }`). Called at most once, and only when every other rule allows
    ///     the retry.
    /// - Returns: ``RetryDecision/retry(after:reason:)`` with the wait, or ``RetryDecision/giveUp(reason:)``.
    public func decide(
        method: HTTPRequest.Method,
        hasIdempotencyKey: Bool,
        finishedAttempt: Int,
        outcome: RetryOutcome,
        elapsed: Duration,
        using generator: inout some RandomNumberGenerator,
        spendBudget: () -> Bool
    ) -> RetryDecision {
        guard let condition = Self.condition(of: outcome), self.configuration.retryOn.contains(condition) else {
            return .giveUp(reason: .notRetryable)
        }
        if self.configuration.idempotentOnly, !Self.isIdempotent(method), !hasIdempotencyKey,
            !Self.neverLeft(outcome)
        {
            return .giveUp(reason: .unsafeMethod)
        }
        if finishedAttempt >= self.configuration.attempts {
            return .giveUp(reason: .attemptsExhausted)
        }

        let wait: Duration
        if case .response(_, .some(let hint)) = outcome {
            let hint = max(0, hint)
            if Duration.seconds(hint) > self.configuration.maxRetryAfter {
                return .giveUp(reason: .retryAfterTooLong(seconds: hint))
            }
            wait = .seconds(hint)
        } else {
            wait = Backoff.delay(
                retry: finishedAttempt,
                base: self.configuration.backoffBase,
                max: self.configuration.backoffMax,
                using: &generator
            )
        }

        if elapsed + wait >= self.requestTimeout {
            return .giveUp(reason: .deadlineExceeded)
        }
        guard spendBudget() else {
            return .giveUp(reason: .budgetExhausted)
        }
        return .retry(after: wait, reason: Self.reason(for: condition))
    }
}
