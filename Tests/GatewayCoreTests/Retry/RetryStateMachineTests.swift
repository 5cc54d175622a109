import GatewayCore
import GatewayTestSupport
import HTTPTypes
import Testing

/// Whole retry sequences in virtual time: every event carries an instant the test chooses, so a sequence with
/// seconds of backoff runs in microseconds and every wait and timeout is checked exactly.
@Suite("RetryStateMachine")
struct RetryStateMachineTests {
    typealias Machine = RetryStateMachine<SplitMix64>

    private let t0 = ContinuousClock.now

    private func at(_ milliseconds: Int) -> ContinuousClock.Instant {
        self.t0 + .milliseconds(milliseconds)
    }

    private func machine(
        retry: RetryConfiguration = .init(),
        requestTimeout: Duration = .seconds(30),
        perTry: Duration = .seconds(10),
        method: HTTPRequest.Method = .get,
        idempotencyKey: Bool = false,
        budget: SharedRetryBudget? = nil,
        breaker: SharedCircuitBreaker? = nil,
        seed: UInt64 = 1
    ) -> Machine {
        Machine(
            policy: RetryPolicy(configuration: retry, requestTimeout: requestTimeout), perTryTimeout: perTry,
            method: method, hasIdempotencyKey: idempotencyKey,
            budget: budget ?? SharedRetryBudget(configuration: retry, now: self.t0), breaker: breaker,
            generator: SplitMix64(seed: seed))
    }

    @Test("a first try that answers below 400 is delivered, and the request is counted in the budget")
    func successOnFirstTry() {
        let budget = SharedRetryBudget(configuration: .init(), now: self.t0)
        var machine = self.machine(budget: budget)
        #expect(machine.start(now: self.at(0)) == .callUpstream(attempt: 1, headTimeout: .seconds(10)))
        let (action, circuit) = machine.tryEnded(.response(status: 200, retryHintSeconds: nil), now: self.at(40))
        #expect(action == .deliverResponse)
        #expect(circuit == .none)
        #expect(machine.attempts == 1)
        #expect(budget.snapshot.requests == 1)
    }

    @Test("503, 503, 200: two backoff waits within their caps, then the third try's response is delivered")
    func retriesUntilSuccess() {
        var machine = self.machine()
        var now = 0
        #expect(machine.start(now: self.at(now)) == .callUpstream(attempt: 1, headTimeout: .seconds(10)))
        for retry in 1...2 {
            now += 50
            let (action, _) = machine.tryEnded(.response(status: 503, retryHintSeconds: nil), now: self.at(now))
            guard case .wait(let wait, .serverError) = action else {
                Issue.record("retry \(retry): expected a wait, got \(action)")
                return
            }
            #expect(wait >= .zero && wait <= Backoff.cap(retry: retry, base: .milliseconds(100), max: .seconds(2)))
            let resumed = self.at(now) + wait
            #expect(machine.waitEnded(now: resumed) == .callUpstream(attempt: retry + 1, headTimeout: .seconds(10)))
            now = Int((resumed - self.t0) / .milliseconds(1)) + 1
        }
        let last = machine.tryEnded(.response(status: 200, retryHintSeconds: nil), now: self.at(now + 10))
        #expect(last.action == .deliverResponse)
        #expect(machine.attempts == 3)
    }

    @Test("a later try's head timeout is per_try, cut to what is left before timeouts.request")
    func headTimeoutShrinksToTheDeadline() {
        var machine = self.machine(
            retry: .init(backoffBase: .milliseconds(100), backoffMax: .milliseconds(100)),
            requestTimeout: .seconds(1), perTry: .milliseconds(800))
        #expect(machine.start(now: self.at(0)) == .callUpstream(attempt: 1, headTimeout: .milliseconds(800)))
        guard case .wait(let wait, .timeout) = machine.tryEnded(.failed(.timedOut), now: self.at(800)).action else {
            Issue.record("expected a wait after a timeout")
            return
        }
        let resumed = self.at(800) + wait
        #expect(
            machine.waitEnded(now: resumed)
                == .callUpstream(attempt: 2, headTimeout: .seconds(1) - (resumed - self.t0)))
        // The second try times out at the deadline: no wait could end before it.
        #expect(machine.tryEnded(.failed(.timedOut), now: self.at(1000)).action == .deliverFailure(.deadlineExceeded))
    }

    @Test("the upstream's Retry-After is the wait, exactly; one above max_retry_after gives up at once")
    func retryAfterHint() {
        var machine = self.machine()
        _ = machine.start(now: self.at(0))
        #expect(
            machine.tryEnded(.response(status: 429, retryHintSeconds: 2), now: self.at(5)).action
                == .wait(.seconds(2), reason: .rateLimited))
        #expect(machine.waitEnded(now: self.at(2005)) == .callUpstream(attempt: 2, headTimeout: .seconds(10)))
        #expect(
            machine.tryEnded(.response(status: 429, retryHintSeconds: 60), now: self.at(2010)).action
                == .deliverErrorResponse(.retryAfterTooLong(seconds: 60)))
    }

    @Test("transport failures are retried until attempts run out; then the last failure is the answer")
    func attemptsExhausted() {
        var machine = self.machine(retry: .init(attempts: 3))
        _ = machine.start(now: self.at(0))
        var now = 0
        for attempt in 1...2 {
            now += 10
            guard
                case .wait(let wait, .connectFailure) = machine.tryEnded(.failed(.connectFailed), now: self.at(now))
                    .action
            else {
                Issue.record("attempt \(attempt): expected a wait")
                return
            }
            let next = machine.waitEnded(now: self.at(now) + wait)
            #expect(next == .callUpstream(attempt: attempt + 1, headTimeout: .seconds(10)))
        }
        let last = machine.tryEnded(.failed(.connectFailed), now: self.at(1000))
        #expect(last.action == .deliverFailure(.attemptsExhausted))
        #expect(machine.attempts == 3)
    }

    @Test("an error response not worth retrying is the answer, read for the normalizer")
    func notRetryableErrorResponse() {
        var machine = self.machine()
        _ = machine.start(now: self.at(0))
        let ended = machine.tryEnded(.response(status: 404, retryHintSeconds: nil), now: self.at(3))
        #expect(ended.action == .deliverErrorResponse(.notRetryable))
    }

    @Test("a POST is not replayed after it may have reached the upstream, but is after a refused connect")
    func unsafeMethod() {
        var post = self.machine(method: .post)
        _ = post.start(now: self.at(0))
        #expect(post.tryEnded(.failed(.connectionReset), now: self.at(3)).action == .deliverFailure(.unsafeMethod))

        var refused = self.machine(method: .post)
        _ = refused.start(now: self.at(0))
        guard case .wait = refused.tryEnded(.failed(.connectFailed), now: self.at(3)).action else {
            Issue.record("a POST whose connect was refused never left, so it is retried")
            return
        }
    }

    @Test("a cancelled try is never retried and the circuit breaker does not count it")
    func cancelledIsNeutral() {
        let breaker = SharedCircuitBreaker(configuration: .init(consecutiveFailures: 1, openFor: .seconds(5)))
        var machine = self.machine(breaker: breaker)
        _ = machine.start(now: self.at(0))
        let (action, circuit) = machine.tryEnded(.cancelled, now: self.at(1))
        #expect(action == .deliverFailure(nil))
        #expect(circuit == .none)
        #expect(breaker.phase == .closed)
    }

    @Test("failures open the circuit between tries: the next try fails fast, and only tries made are counted")
    func circuitOpensBetweenTries() {
        let breaker = SharedCircuitBreaker(configuration: .init(consecutiveFailures: 2, openFor: .seconds(10)))
        var machine = self.machine(breaker: breaker)
        _ = machine.start(now: self.at(0))
        let first = machine.tryEnded(.response(status: 503, retryHintSeconds: 1), now: self.at(10))
        #expect(first.action == .wait(.seconds(1), reason: .serverError))
        #expect(first.circuit == .none)
        #expect(machine.waitEnded(now: self.at(1010)) == .callUpstream(attempt: 2, headTimeout: .seconds(10)))
        let second = machine.tryEnded(.response(status: 503, retryHintSeconds: 1), now: self.at(1020))
        #expect(second.circuit == .opened(for: .seconds(10)))
        #expect(second.action == .wait(.seconds(1), reason: .serverError))
        #expect(machine.waitEnded(now: self.at(2020)) == .failFast(retryAfter: .seconds(9)))
        #expect(machine.attempts == 2)

        // A request after open_for is the probe; its success closes the circuit.
        var probe = self.machine(breaker: breaker)
        #expect(probe.start(now: self.at(11_020)) == .callUpstream(attempt: 1, headTimeout: .seconds(10)))
        var other = self.machine(breaker: breaker)
        #expect(
            other.start(now: self.at(11_021))
                == .failFast(retryAfter: CircuitBreaker(configuration: .init()).probeRetryAfter))
        #expect(other.attempts == 0)
        #expect(probe.tryEnded(.response(status: 200, retryHintSeconds: nil), now: self.at(11_030)).circuit == .closed)
        #expect(breaker.phase == .closed)
    }

    @Test("an exhausted retry budget gives up, and a refused retry spends nothing")
    func budgetExhausted() {
        let retry = RetryConfiguration(budgetRatio: 0, budgetMinPerSecond: 0)
        let budget = SharedRetryBudget(configuration: retry, now: self.t0)
        var machine = self.machine(retry: retry, budget: budget)
        _ = machine.start(now: self.at(0))
        #expect(machine.tryEnded(.failed(.timedOut), now: self.at(10)).action == .deliverFailure(.budgetExhausted))
        #expect(budget.snapshot.retries == 0)
    }

    /// Random upstreams, many seeds: whatever the upstream does, the tries stay within `attempts`, every wait ends
    /// before the deadline, every head timeout fits before it, and the sequence always ends in a delivery.
    @Test("any sequence of outcomes ends within the attempts and the deadline", arguments: UInt64(0)..<200)
    func anySequenceEnds(seed: UInt64) {
        var random = SplitMix64(seed: seed &* 0x9E37_79B9)
        let attempts = Int.random(in: 1...5, using: &random)
        let requestTimeout = Duration.milliseconds(Int.random(in: 200...5000, using: &random))
        var machine = self.machine(
            retry: .init(attempts: attempts, maxRetryAfter: .seconds(3)), requestTimeout: requestTimeout,
            perTry: .milliseconds(Int.random(in: 50...3000, using: &random)), seed: seed)
        let outcomes: [Machine.TryResult] = [
            .response(status: 200, retryHintSeconds: nil), .response(status: 503, retryHintSeconds: nil),
            .response(status: 429, retryHintSeconds: 1), .response(status: 500, retryHintSeconds: nil),
            .failed(.timedOut), .failed(.connectFailed), .failed(.connectionReset), .failed(.tlsFailed),
        ]
        var now = self.t0
        var action = machine.start(now: now)
        var calls = 0
        while true {
            switch action {
            case .callUpstream(let attempt, let headTimeout):
                calls += 1
                #expect(attempt == calls)
                #expect(headTimeout >= .milliseconds(1))
                #expect(now + headTimeout <= self.t0 + requestTimeout || headTimeout == .milliseconds(1))
                now += headTimeout / Int.random(in: 1...4, using: &random)
                action = machine.tryEnded(outcomes.randomElement(using: &random)!, now: now).action
            case .wait(let wait, _):
                #expect(now + wait < self.t0 + requestTimeout)
                now += wait
                action = machine.waitEnded(now: now)
            case .deliverResponse, .deliverErrorResponse, .deliverFailure:
                #expect(calls >= 1 && calls <= attempts)
                #expect(machine.attempts == calls)
                return
            case .failFast:
                Issue.record("no breaker, no fail-fast")
                return
            }
        }
    }
}
