public import HTTPTypes

/// The tries of one request at an upstream, as a value that returns actions: when to call the upstream and with
/// what timeout, when to fail fast, how long to wait before the next try, and which try's result is the answer
/// (SPEC section 2: `retry`, `timeouts`, `circuit_breaker`).
///
/// It folds together the request's ``RetryPolicy``, the upstream's shared ``SharedRetryBudget`` and
/// ``SharedCircuitBreaker``, and a random number generator for the backoff jitter. It reads no clock: every event
/// carries `now`, so a test drives a whole retry sequence in virtual time. The I/O shell (the gateway's
/// `UpstreamExchange`) performs each action and reports how it ended.
///
/// Valid transitions (anything else is a programming error and traps in ``invalid(_:in:)``):
///   - `idle` — ``start(now:)`` → `trying(1)`, or `finished` when the circuit fails fast.
///   - `trying(n)` — ``tryEnded(_:now:)`` → `waiting(n)` when the policy retries, else `finished`.
///   - `waiting(n)` — ``waitEnded(now:)`` → `trying(n + 1)`, or `finished` when the circuit fails fast.
///   - `finished` — no event.
///
/// A try that started is ended exactly once (``tryEnded(_:now:)``, also when the client went away), so a circuit
/// breaker's probe is never left in flight.
public struct RetryStateMachine<Generator: RandomNumberGenerator> {
    /// How a try ended, as the shell saw it.
    public enum TryResult: Sendable, Hashable {
        /// A response head arrived. `retryHintSeconds` is how long the upstream asked to wait, if it said (see
        /// ``RetryOutcome/response(status:headers:nowUnixSeconds:)``).
        case response(status: Int, retryHintSeconds: Int?)
        /// No response head: the transfer failed with this code.
        case failed(UpstreamError.Code)
        /// The request was cancelled (its client went away): nothing is retried, and the circuit breaker does not
        /// count the try.
        case cancelled
    }

    /// What the shell does next.
    public enum Action: Sendable, Hashable {
        /// Call the upstream (try number `attempt`, 1 for the first); a response head must arrive within
        /// `headTimeout`. Report the end with ``tryEnded(_:now:)``.
        case callUpstream(attempt: Int, headTimeout: Duration)
        /// Do not call the upstream: its circuit is open. Answer 503 with `Retry-After` (rounded up to seconds).
        case failFast(retryAfter: Duration)
        /// Wait this long, then report ``waitEnded(now:)``. The retry is already counted in the budget; `reason` is
        /// the `reason` label of `gateway_retries_total`. A response the last try produced is dropped unread.
        case wait(Duration, reason: RetryReason)
        /// The last try's response (status below 400) is the answer: stream it.
        case deliverResponse
        /// The last try's error response is the answer: read its body's prefix for the normalizer. `reason` says
        /// why it was not retried.
        case deliverErrorResponse(GiveUpReason)
        /// The last try's transport failure is the answer. `reason` says why it was not retried; nil when the
        /// request was cancelled.
        case deliverFailure(GiveUpReason?)
    }

    private enum State {
        case idle
        /// Try number `attempt` is in flight; `isProbe` when the circuit breaker made it its probe.
        case trying(attempt: Int, isProbe: Bool)
        /// Try number `attempt` ended and the next one waits for its backoff.
        case waiting(attempt: Int)
        case finished
    }

    private var state = State.idle
    private let policy: RetryPolicy
    private let method: HTTPRequest.Method
    private let hasIdempotencyKey: Bool
    private let perTryTimeout: Duration
    private let budget: SharedRetryBudget
    private let breaker: SharedCircuitBreaker?
    private var generator: Generator
    /// When the first try started: the `timeouts.request` clock runs from here.
    private var start: ContinuousClock.Instant?
    /// Tries made so far (a try the circuit refused is not one).
    public private(set) var attempts = 0

    /// - Parameters:
    ///   - policy: The upstream's retry policy (its `retry` settings and `timeouts.request`).
    ///   - perTryTimeout: `timeouts.per_try`: how long one try may wait for a response head.
    ///   - method: The request's method.
    ///   - hasIdempotencyKey: Whether the request carries ``RetryPolicy/idempotencyKey``.
    ///   - budget: The upstream's retry budget, shared with its other requests.
    ///   - breaker: The upstream's circuit breaker, if it has one.
    ///   - generator: Randomness for the backoff jitter.
    public init(
        policy: RetryPolicy,
        perTryTimeout: Duration,
        method: HTTPRequest.Method,
        hasIdempotencyKey: Bool,
        budget: SharedRetryBudget,
        breaker: SharedCircuitBreaker?,
        generator: Generator
    ) {
        self.policy = policy
        self.perTryTimeout = perTryTimeout
        self.method = method
        self.hasIdempotencyKey = hasIdempotencyKey
        self.budget = budget
        self.breaker = breaker
        self.generator = generator
    }

    /// The request arrives: it is counted in the budget, and its first try starts (or the circuit fails it fast).
    public mutating func start(now: ContinuousClock.Instant) -> Action {
        guard case .idle = self.state else { self.invalid("start", in: self.state) }
        self.start = now
        self.budget.recordRequest(now: now)
        return self.startTry(number: 1, now: now)
    }

    /// The try in flight ended. Returns what to do next and what the try changed in the circuit (worth a log line
    /// when the circuit opened or closed).
    public mutating func tryEnded(
        _ result: TryResult,
        now: ContinuousClock.Instant
    ) -> (action: Action, circuit: CircuitBreaker.FinishAction) {
        guard case .trying(let attempt, let isProbe) = self.state, let start = self.start else {
            self.invalid("tryEnded", in: self.state)
        }
        let health: CircuitBreaker.Outcome
        let outcome: RetryOutcome
        switch result {
        case .response(let status, let hint):
            health = CircuitBreaker.Outcome(status: status)
            outcome = .response(status: status, retryHintSeconds: hint)
        case .failed(let code):
            health = CircuitBreaker.Outcome(errorCode: code)
            outcome = .transportFailure(code)
        case .cancelled:
            health = .neutral
            outcome = .transportFailure(.cancelled)
        }
        let circuit = self.breaker?.requestFinished(health, wasProbe: isProbe, now: now) ?? .none

        if case .response(let status, _) = result, status < 400 {
            self.state = .finished
            return (.deliverResponse, circuit)
        }
        if case .cancelled = result {
            self.state = .finished
            return (.deliverFailure(nil), circuit)
        }
        let budget = self.budget
        let decision = self.policy.decide(
            method: self.method, hasIdempotencyKey: self.hasIdempotencyKey, finishedAttempt: attempt,
            outcome: outcome, elapsed: now - start, using: &self.generator,
            spendBudget: { budget.spendRetry(now: now) })
        switch (decision, result) {
        case (.retry(let wait, let reason), _):
            self.state = .waiting(attempt: attempt)
            return (.wait(wait, reason: reason), circuit)
        case (.giveUp(let reason), .response):
            self.state = .finished
            return (.deliverErrorResponse(reason), circuit)
        case (.giveUp(let reason), .failed), (.giveUp(let reason), .cancelled):
            self.state = .finished
            return (.deliverFailure(reason), circuit)
        }
    }

    /// The wait before the next try ended: that try starts (or the circuit, opened meanwhile, fails it fast).
    public mutating func waitEnded(now: ContinuousClock.Instant) -> Action {
        guard case .waiting(let attempt) = self.state else { self.invalid("waitEnded", in: self.state) }
        return self.startTry(number: attempt + 1, now: now)
    }

    private mutating func startTry(number attempt: Int, now: ContinuousClock.Instant) -> Action {
        var isProbe = false
        switch self.breaker?.requestStarting(now: now) {
        case .none, .proceed?:
            break
        case .proceedAsProbe?:
            isProbe = true
        case .failFast(let retryAfter)?:
            self.state = .finished
            return .failFast(retryAfter: retryAfter)
        }
        self.state = .trying(attempt: attempt, isProbe: isProbe)
        self.attempts = attempt
        let untilDeadline = self.policy.requestTimeout - (now - (self.start ?? now))
        // A retry is only granted when its wait ends before the deadline, so this is positive but for a clock
        // that jumped; a try is never given less than a millisecond.
        let headTimeout = max(.milliseconds(1), min(self.perTryTimeout, untilDeadline))
        return .callUpstream(attempt: attempt, headTimeout: headTimeout)
    }

    private func invalid(_ event: String, in state: State) -> Never {
        preconditionFailure("RetryStateMachine: \(event) in state \(state)")
    }
}

extension RetryStateMachine: Sendable where Generator: Sendable {}
