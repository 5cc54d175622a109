import Synchronization

/// Fails requests fast while an upstream keeps failing, and lets one probe find out when it has recovered.
///
/// A state machine (a value) that returns actions; the proxy shares one per upstream through
/// ``SharedCircuitBreaker``. Nothing here reads a clock: every event carries `now`.
///
/// States and their valid transitions:
///   - `closed(failures)`: requests proceed. A failure adds one; a success resets to 0. The
///     `consecutive_failures`-th failure in a row → `open(until: now + open_for)`.
///   - `open(until)`: requests fail fast with `retryAfter = until - now`. The first request at or after `until`
///     → `halfOpen(probeInFlight: true)`, and that request is the probe.
///   - `halfOpen(probeInFlight: true)`: other requests fail fast with ``probeRetryAfter``. The probe's success
///     → `closed(0)`; its failure → `open(until: now + open_for)`; a neutral end (cancelled) →
///     `halfOpen(probeInFlight: false)`.
///   - `halfOpen(probeInFlight: false)`: the next request becomes the probe → `halfOpen(probeInFlight: true)`.
///
/// Requests that started while the circuit was closed may finish after it opened; their outcome is ignored
/// (the circuit already knows the upstream is failing, and only the probe may close it).
///
/// **How the proxy drives it.** Before every try (retries included): ``requestStarting(now:)``; on
/// ``StartAction/failFast(retryAfter:)`` answer 503 `upstream_unavailable` with `Retry-After` without calling the
/// upstream. After every try that proceeded: ``requestFinished(_:wasProbe:now:)`` with the outcome classified by
/// ``Outcome/init(status:)`` or ``Outcome/init(errorCode:)``, and `wasProbe` true iff the start action was
/// ``StartAction/proceedAsProbe``. Every proceeded try must be finished exactly once (also when the client went
/// away: ``Outcome/neutral``), or a probe would stay in flight forever.
public struct CircuitBreaker: Sendable {
    /// How a try ended, as far as the upstream's health is concerned.
    public enum Outcome: Sendable, Hashable {
        /// The upstream answered with something other than a 5xx (a 4xx is the client's problem, not the upstream's).
        case success
        /// A connect failure, a timeout, a broken connection, a TLS or protocol failure, or a 5xx.
        case failure
        /// The try ended for a reason that says nothing about the upstream (the client went away, the gateway
        /// refused to start the transfer): not counted either way.
        case neutral

        /// Classifies a response: 5xx is a failure, anything else (4xx included) a success.
        public init(status: Int) {
            self = (500...599).contains(status) ? .failure : .success
        }

        /// Classifies a transport failure by its row of ``UpstreamError/Code/handling``:
        /// ``UpstreamError/Code/cancelled`` and ``UpstreamError/Code/overloaded`` are the gateway's own doing and
        /// neutral; every other code is a failure of the upstream.
        public init(errorCode: UpstreamError.Code) {
            self = errorCode.handling.breakerOutcome
        }
    }

    /// What the proxy must do with a try that is about to start.
    public enum StartAction: Sendable, Hashable {
        /// Call the upstream; report the end with `wasProbe: false`.
        case proceed
        /// Call the upstream; this try decides whether the circuit closes. Report the end with `wasProbe: true`.
        case proceedAsProbe
        /// Do not call the upstream; answer 503 with `Retry-After` (round up to whole seconds).
        case failFast(retryAfter: Duration)
    }

    /// A change of state worth a log line or a metric, returned when a try finishes.
    public enum FinishAction: Sendable, Hashable {
        /// Nothing changed that matters outside.
        case none
        /// The circuit just opened and will fail requests fast for `for`.
        case opened(for: Duration)
        /// The circuit just closed: the probe succeeded.
        case closed
    }

    /// The coarse state, for a metric gauge or a health page.
    public enum Phase: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case closed
        case open
        case halfOpen = "half_open"

        public var description: String { self.rawValue }
    }

    private enum State: Sendable, Hashable {
        case closed(failures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen(probeInFlight: Bool)
    }

    /// Failures in a row that open the circuit (at least 1).
    public let consecutiveFailures: Int
    /// How long the circuit stays open before a probe is let through.
    public let openFor: Duration
    /// The `Retry-After` given to requests turned away while the probe is in flight.
    public let probeRetryAfter: Duration
    private var state: State = .closed(failures: 0)

    /// - Parameters:
    ///   - configuration: The upstream's `circuit_breaker` settings.
    ///   - probeRetryAfter: The `Retry-After` for requests turned away while the probe is in flight; a probe
    ///     usually ends within a try's timeout, so a short value.
    public init(configuration: CircuitBreakerConfiguration, probeRetryAfter: Duration = .seconds(1)) {
        self.consecutiveFailures = max(1, configuration.consecutiveFailures)
        self.openFor = max(.zero, configuration.openFor)
        self.probeRetryAfter = max(.zero, probeRetryAfter)
    }

    /// The coarse state.
    public var phase: Phase {
        switch self.state {
        case .closed: return .closed
        case .open: return .open
        case .halfOpen: return .halfOpen
        }
    }

    /// A try is about to start: may it call the upstream?
    public mutating func requestStarting(now: ContinuousClock.Instant) -> StartAction {
        switch self.state {
        case .closed:
            return .proceed
        case .open(let until):
            guard now >= until else { return .failFast(retryAfter: until - now) }
            self.state = .halfOpen(probeInFlight: true)
            return .proceedAsProbe
        case .halfOpen(probeInFlight: false):
            self.state = .halfOpen(probeInFlight: true)
            return .proceedAsProbe
        case .halfOpen(probeInFlight: true):
            return .failFast(retryAfter: self.probeRetryAfter)
        }
    }

    /// A try that proceeded has ended.
    ///
    /// - Parameters:
    ///   - outcome: How it ended; see ``Outcome/init(status:)`` and ``Outcome/init(errorCode:)``.
    ///   - wasProbe: Whether ``requestStarting(now:)`` answered ``StartAction/proceedAsProbe`` for this try.
    ///   - now: The time it ended.
    /// - Returns: Whether the circuit opened or closed because of it.
    public mutating func requestFinished(
        _ outcome: Outcome,
        wasProbe: Bool,
        now: ContinuousClock.Instant
    ) -> FinishAction {
        switch (self.state, wasProbe) {
        case (.closed(let failures), false):
            switch outcome {
            case .success:
                self.state = .closed(failures: 0)
                return .none
            case .neutral:
                return .none
            case .failure:
                guard failures + 1 >= self.consecutiveFailures else {
                    self.state = .closed(failures: failures + 1)
                    return .none
                }
                self.state = .open(until: now + self.openFor)
                return .opened(for: self.openFor)
            }

        case (.open, false), (.halfOpen, false):
            // A try that started before the circuit opened: the probe alone decides.
            return .none

        case (.halfOpen(probeInFlight: true), true):
            switch outcome {
            case .success:
                self.state = .closed(failures: 0)
                return .closed
            case .failure:
                self.state = .open(until: now + self.openFor)
                return .opened(for: self.openFor)
            case .neutral:
                self.state = .halfOpen(probeInFlight: false)
                return .none
            }

        case (.closed, true), (.open, true), (.halfOpen(probeInFlight: false), true):
            // Only `requestStarting` makes a probe, and it stays half-open with the probe in flight until that
            // probe is finished: a probe cannot end in any other state.
            self.preconditionViolation(finishedProbeIn: self.state)
        }
    }

    private func preconditionViolation(finishedProbeIn state: State) -> Never {
        preconditionFailure("CircuitBreaker: a probe finished in state \(state), where no probe can be in flight")
    }
}

/// One upstream's ``CircuitBreaker``, shared by all the requests in flight to it.
///
/// Each method decides under the lock and returns the action; the caller carries it out after the lock is released.
public final class SharedCircuitBreaker: Sendable {
    private let breaker: Mutex<CircuitBreaker>

    public init(_ breaker: CircuitBreaker) {
        self.breaker = Mutex(breaker)
    }

    /// A breaker with an upstream's `circuit_breaker` settings.
    public convenience init(configuration: CircuitBreakerConfiguration) {
        self.init(CircuitBreaker(configuration: configuration))
    }

    /// See ``CircuitBreaker/requestStarting(now:)``.
    public func requestStarting(now: ContinuousClock.Instant) -> CircuitBreaker.StartAction {
        self.breaker.withLock { $0.requestStarting(now: now) }
    }

    /// See ``CircuitBreaker/requestFinished(_:wasProbe:now:)``.
    public func requestFinished(
        _ outcome: CircuitBreaker.Outcome,
        wasProbe: Bool,
        now: ContinuousClock.Instant
    ) -> CircuitBreaker.FinishAction {
        self.breaker.withLock { $0.requestFinished(outcome, wasProbe: wasProbe, now: now) }
    }

    /// The coarse state, for a metric gauge.
    public var phase: CircuitBreaker.Phase {
        self.breaker.withLock { $0.phase }
    }
}
