import GatewayCore
import GatewayTestSupport
import HTTPTypes
import Testing

/// What a row of the table expects.
enum ExpectedDecision: Sendable, Equatable, CustomStringConvertible {
    /// A retry after exactly this wait (an upstream hint).
    case retryAfter(Duration, RetryReason)
    /// A retry after a backoff wait within `[0, cap]`.
    case retryWithin(Duration, RetryReason)
    case giveUp(GiveUpReason)

    var description: String {
        switch self {
        case .retryAfter(let wait, let reason): return "retry after \(wait) (\(reason))"
        case .retryWithin(let cap, let reason): return "retry within \(cap) (\(reason))"
        case .giveUp(let reason): return "give up (\(reason))"
        }
    }
}

/// One row: the facts of a finished try and what the policy must answer.
struct PolicyCase: Sendable, CustomTestStringConvertible {
    var name: String
    var configuration = RetryConfiguration()
    var requestTimeout: Duration = .seconds(30)
    var method: HTTPRequest.Method = .get
    var idempotencyKey = false
    var attempt = 1
    var outcome: RetryOutcome
    var elapsed: Duration = .zero
    var budget = true
    var expected: ExpectedDecision

    var testDescription: String { self.name }
}

@Suite("RetryPolicy")
struct RetryPolicyTests {
    static let connectFailed = RetryOutcome.transportFailure(.connectFailed)
    static let dnsFailed = RetryOutcome.transportFailure(.dnsFailed)
    static let timedOut = RetryOutcome.transportFailure(.timedOut)
    static let reset = RetryOutcome.transportFailure(.connectionReset)
    static let gotNothing = RetryOutcome.transportFailure(.gotNothing)
    static let tlsFailed = RetryOutcome.transportFailure(.tlsFailed)
    static func status(_ status: Int, hint: Int? = nil) -> RetryOutcome {
        .response(status: status, retryHintSeconds: hint)
    }

    static let firstRetryCap: Duration = .milliseconds(100)

    /// The rules other than idempotency, one or more rows each.
    static let rules: [PolicyCase] = [
        // retry_on conditions
        .init(name: "connect failure", outcome: connectFailed, expected: .retryWithin(firstRetryCap, .connectFailure)),
        .init(name: "DNS failure", outcome: dnsFailed, expected: .retryWithin(firstRetryCap, .connectFailure)),
        .init(name: "timeout", outcome: timedOut, expected: .retryWithin(firstRetryCap, .timeout)),
        .init(name: "reset", outcome: reset, expected: .retryWithin(firstRetryCap, .reset)),
        .init(name: "got nothing is a reset", outcome: gotNothing, expected: .retryWithin(firstRetryCap, .reset)),
        .init(name: "502", outcome: status(502), expected: .retryWithin(firstRetryCap, .serverError)),
        .init(name: "503", outcome: status(503), expected: .retryWithin(firstRetryCap, .serverError)),
        .init(name: "504", outcome: status(504), expected: .retryWithin(firstRetryCap, .serverError)),
        .init(name: "429 without hint", outcome: status(429), expected: .retryWithin(firstRetryCap, .rateLimited)),
        // never retried
        .init(name: "TLS failure", outcome: tlsFailed, expected: .giveUp(.notRetryable)),
        .init(
            name: "TLS failure even when everything else allows",
            configuration: .init(attempts: 10, idempotentOnly: false),
            outcome: tlsFailed,
            expected: .giveUp(.notRetryable)
        ),
        .init(name: "protocol error", outcome: .transportFailure(.protocolError), expected: .giveUp(.notRetryable)),
        .init(name: "cancelled", outcome: .transportFailure(.cancelled), expected: .giveUp(.notRetryable)),
        .init(name: "overloaded", outcome: .transportFailure(.overloaded), expected: .giveUp(.notRetryable)),
        .init(name: "500 not listed by default", outcome: status(500), expected: .giveUp(.notRetryable)),
        .init(name: "404", outcome: status(404), expected: .giveUp(.notRetryable)),
        .init(name: "422", outcome: status(422), expected: .giveUp(.notRetryable)),
        .init(
            name: "a status below 400 is never retried, even if listed",
            configuration: .init(retryOn: [.status(200), .status(304)]),
            outcome: status(200),
            expected: .giveUp(.notRetryable)
        ),
        // retry_on is the list
        .init(
            name: "500 when listed",
            configuration: .init(retryOn: [.status(500)]),
            outcome: status(500),
            expected: .retryWithin(firstRetryCap, .serverError)
        ),
        .init(
            name: "408 when listed",
            configuration: .init(retryOn: [.status(408)]),
            outcome: status(408),
            expected: .retryWithin(firstRetryCap, .otherStatus)
        ),
        .init(
            name: "timeout not listed",
            configuration: .init(retryOn: [.connectFailure, .reset, .status(503)]),
            outcome: timedOut,
            expected: .giveUp(.notRetryable)
        ),
        .init(
            name: "connect failure not listed",
            configuration: .init(retryOn: [.timeout]),
            outcome: connectFailed,
            expected: .giveUp(.notRetryable)
        ),
        .init(
            name: "reset not listed",
            configuration: .init(retryOn: [.timeout]),
            outcome: gotNothing,
            expected: .giveUp(.notRetryable)
        ),
        .init(
            name: "429 not listed, even with a short hint",
            configuration: .init(retryOn: [.status(503)]),
            outcome: status(429, hint: 1),
            expected: .giveUp(.notRetryable)
        ),
        // attempts
        .init(
            name: "second try failed of 3", attempt: 2, outcome: status(503),
            expected: .retryWithin(.milliseconds(200), .serverError)),
        .init(name: "third try failed of 3", attempt: 3, outcome: status(503), expected: .giveUp(.attemptsExhausted)),
        .init(
            name: "attempts: 1 means no retry",
            configuration: .init(attempts: 1),
            outcome: connectFailed,
            expected: .giveUp(.attemptsExhausted)
        ),
        .init(
            name: "backoff grows with the try number",
            configuration: .init(attempts: 10),
            attempt: 6,
            outcome: timedOut,
            expected: .retryWithin(.seconds(2), .timeout)
        ),
        // upstream hints and max_retry_after
        .init(name: "429 hint 5 s", outcome: status(429, hint: 5), expected: .retryAfter(.seconds(5), .rateLimited)),
        .init(name: "503 hint 2 s", outcome: status(503, hint: 2), expected: .retryAfter(.seconds(2), .serverError)),
        .init(name: "hint 0 s: at once", outcome: status(429, hint: 0), expected: .retryAfter(.zero, .rateLimited)),
        .init(
            name: "hint equal to max_retry_after is waited out",
            outcome: status(429, hint: 10),
            expected: .retryAfter(.seconds(10), .rateLimited)
        ),
        .init(
            name: "hint above max_retry_after: give up at once",
            outcome: status(429, hint: 11),
            expected: .giveUp(.retryAfterTooLong(seconds: 11))
        ),
        .init(
            name: "hint of an hour",
            outcome: status(503, hint: 3600),
            expected: .giveUp(.retryAfterTooLong(seconds: 3600))
        ),
        .init(
            name: "max_retry_after 0 refuses any positive hint",
            configuration: .init(maxRetryAfter: .zero),
            outcome: status(429, hint: 1),
            expected: .giveUp(.retryAfterTooLong(seconds: 1))
        ),
        // the request deadline
        .init(
            name: "hint would end past the deadline",
            outcome: status(429, hint: 5),
            elapsed: .seconds(26),
            expected: .giveUp(.deadlineExceeded)
        ),
        .init(
            name: "hint would end exactly at the deadline",
            outcome: status(429, hint: 5),
            elapsed: .seconds(25),
            expected: .giveUp(.deadlineExceeded)
        ),
        .init(
            name: "hint ends just before the deadline",
            outcome: status(429, hint: 5),
            elapsed: .milliseconds(24_999),
            expected: .retryAfter(.seconds(5), .rateLimited)
        ),
        .init(
            name: "deadline already reached",
            outcome: connectFailed,
            elapsed: .seconds(30),
            expected: .giveUp(.deadlineExceeded)
        ),
        .init(
            name: "a short request timeout",
            requestTimeout: .seconds(1),
            outcome: status(503, hint: 1),
            expected: .giveUp(.deadlineExceeded)
        ),
        // the budget
        .init(name: "budget exhausted", outcome: status(503), budget: false, expected: .giveUp(.budgetExhausted)),
        .init(
            name: "budget exhausted, connect failure", outcome: connectFailed, budget: false,
            expected: .giveUp(.budgetExhausted)),
    ]

    @Test("each rule", arguments: Self.rules)
    func rule(_ row: PolicyCase) {
        self.check(row)
    }

    static let methods: [HTTPRequest.Method] = [
        .get, .head, .options, .trace, .put, .delete, .post, .patch, .connect, HTTPRequest.Method("PROPFIND")!,
    ]
    static let idempotent: Set<HTTPRequest.Method> = [.get, .head, .options, .trace, .put, .delete]
    static let conditions: [(RetryOutcome, RetryReason?, neverLeft: Bool)] = [
        (connectFailed, .connectFailure, true),
        (dnsFailed, .connectFailure, true),
        (timedOut, .timeout, false),
        (reset, .reset, false),
        (gotNothing, .reset, false),
        (status(502), .serverError, false),
        (status(503), .serverError, false),
        (status(429, hint: 3), .rateLimited, false),
        (tlsFailed, nil, false),
    ]

    /// Every method × condition × Idempotency-Key, with `idempotent_only` on and off.
    static let idempotencyMatrix: [PolicyCase] = {
        var rows: [PolicyCase] = []
        for idempotentOnly in [true, false] {
            for method in methods {
                for (outcome, reason, neverLeft) in conditions {
                    for key in [false, true] {
                        let expected: ExpectedDecision
                        if let reason {
                            if idempotentOnly && !idempotent.contains(method) && !key && !neverLeft {
                                expected = .giveUp(.unsafeMethod)
                            } else if case .response(_, .some(let hint)) = outcome {
                                expected = .retryAfter(.seconds(hint), reason)
                            } else {
                                expected = .retryWithin(firstRetryCap, reason)
                            }
                        } else {
                            expected = .giveUp(.notRetryable)
                        }
                        rows.append(
                            PolicyCase(
                                name: "\(method) \(outcome) key=\(key) idempotent_only=\(idempotentOnly)",
                                configuration: .init(idempotentOnly: idempotentOnly),
                                method: method,
                                idempotencyKey: key,
                                outcome: outcome,
                                expected: expected
                            )
                        )
                    }
                }
            }
        }
        return rows
    }()

    @Test("idempotency: every method × condition × Idempotency-Key")
    func idempotency() {
        #expect(Self.idempotencyMatrix.count == 2 * 10 * 9 * 2)
        for row in Self.idempotencyMatrix {
            self.check(row)
        }
    }

    @Test("spot checks of the idempotency rule, written out")
    func idempotencySpotChecks() {
        self.check(.init(name: "POST 503", method: .post, outcome: Self.status(503), expected: .giveUp(.unsafeMethod)))
        self.check(.init(name: "POST timeout", method: .post, outcome: Self.timedOut, expected: .giveUp(.unsafeMethod)))
        self.check(.init(name: "PATCH reset", method: .patch, outcome: Self.reset, expected: .giveUp(.unsafeMethod)))
        self.check(
            .init(
                name: "POST refused", method: .post, outcome: Self.connectFailed,
                expected: .retryWithin(Self.firstRetryCap, .connectFailure))
        )
        self.check(
            .init(
                name: "POST 503 with key", method: .post, idempotencyKey: true, outcome: Self.status(503),
                expected: .retryWithin(Self.firstRetryCap, .serverError))
        )
        self.check(
            .init(
                name: "DELETE timeout", method: .delete, outcome: Self.timedOut,
                expected: .retryWithin(Self.firstRetryCap, .timeout))
        )
        // The unsafe-method rule comes before attempts and budget: the reason names the real obstacle.
        self.check(
            .init(
                name: "POST 503 last try", method: .post, attempt: 3, outcome: Self.status(503), budget: false,
                expected: .giveUp(.unsafeMethod))
        )
    }

    @Test("the budget is asked only when every other rule allows the retry, and then exactly once")
    func budgetAskedLast() {
        let policy = RetryPolicy(configuration: .init(), requestTimeout: .seconds(30))
        var generator = SplitMix64(seed: 7)
        var asked = 0
        let refusals: [(HTTPRequest.Method, Int, RetryOutcome, Duration)] = [
            (.get, 1, Self.tlsFailed, .zero),
            (.get, 1, Self.status(404), .zero),
            (.post, 1, Self.status(503), .zero),
            (.get, 3, Self.status(503), .zero),
            (.get, 1, Self.status(429, hint: 60), .zero),
            (.get, 1, Self.status(429, hint: 5), .seconds(29)),
        ]
        for (method, attempt, outcome, elapsed) in refusals {
            let decision = policy.decide(
                method: method, hasIdempotencyKey: false, finishedAttempt: attempt, outcome: outcome,
                elapsed: elapsed, using: &generator,
                spendBudget: {
                    asked += 1
                    return true
                }
            )
            guard case .giveUp = decision else {
                Issue.record("expected a give-up for \(outcome), got \(decision)")
                continue
            }
        }
        #expect(asked == 0)
        let decision = policy.decide(
            method: .get, hasIdempotencyKey: false, finishedAttempt: 1, outcome: Self.status(503),
            elapsed: .zero, using: &generator,
            spendBudget: {
                asked += 1
                return true
            }
        )
        #expect(asked == 1)
        guard case .retry(_, .serverError) = decision else {
            Issue.record("expected a retry, got \(decision)")
            return
        }
    }

    @Test("backoff waits are jittered within the cap and never cross the deadline", arguments: UInt64(0)..<50)
    func backoffNeverCrossesDeadline(seed: UInt64) {
        let policy = RetryPolicy(configuration: .init(attempts: 8), requestTimeout: .seconds(3))
        var generator = SplitMix64(seed: seed)
        var elapsed = Duration.zero
        var attempt = 1
        while true {
            let decision = policy.decide(
                method: .get, hasIdempotencyKey: false, finishedAttempt: attempt, outcome: Self.timedOut,
                elapsed: elapsed, using: &generator, spendBudget: { true }
            )
            switch decision {
            case .retry(let wait, let reason):
                #expect(reason == .timeout)
                let cap = Backoff.cap(retry: attempt, base: .milliseconds(100), max: .seconds(2))
                #expect(wait >= .zero && wait <= cap)
                #expect(elapsed + wait < .seconds(3))
                // The try itself takes 300 ms.
                elapsed += wait + .milliseconds(300)
                attempt += 1
            case .giveUp(let reason):
                #expect(reason == .deadlineExceeded || reason == .attemptsExhausted, "\(reason)")
                return
            }
        }
    }

    @Test("a response outcome reads the hint from the headers with RetryHint")
    func outcomeFromHeaders() {
        let now = 1_700_000_000
        var headers = HTTPFields()
        headers[.retryAfter] = "7"
        #expect(
            RetryOutcome.response(status: 503, headers: headers, nowUnixSeconds: now)
                == .response(status: 503, retryHintSeconds: 7))

        headers[.retryAfter] = HTTPDate.format(unixSeconds: now + 4)
        #expect(
            RetryOutcome.response(status: 429, headers: headers, nowUnixSeconds: now)
                == .response(status: 429, retryHintSeconds: 4))

        var rateLimited = HTTPFields()
        rateLimited[.xRateLimitReset] = String(now + 12)
        #expect(
            RetryOutcome.response(status: 429, headers: rateLimited, nowUnixSeconds: now)
                == .response(status: 429, retryHintSeconds: 12))

        var ietf = HTTPFields()
        ietf[.rateLimit] = "\"default\";r=0;t=3"
        #expect(
            RetryOutcome.response(status: 429, headers: ietf, nowUnixSeconds: now)
                == .response(status: 429, retryHintSeconds: 3))

        #expect(
            RetryOutcome.response(status: 502, headers: [:], nowUnixSeconds: now)
                == .response(status: 502, retryHintSeconds: nil))
    }

    @Test("a policy built from an upstream uses its retry settings and request timeout")
    func fromUpstream() {
        let upstream = UpstreamConfiguration(
            name: "dokstamp",
            url: UpstreamURL("https://api.dokstamp.com")!,
            timeouts: .init(request: .seconds(5)),
            retry: .init(attempts: 4)
        )
        let policy = RetryPolicy(upstream: upstream)
        #expect(policy.requestTimeout == .seconds(5))
        #expect(policy.configuration.attempts == 4)
    }

    @Test("the labels are stable and bounded")
    func labels() {
        #expect(
            RetryReason.allCases.map(\.description)
                == ["connect_failure", "timeout", "reset", "rate_limited", "status_5xx", "status_other"]
        )
        let giveUps: [GiveUpReason] = [
            .notRetryable, .unsafeMethod, .attemptsExhausted, .retryAfterTooLong(seconds: 42),
            .deadlineExceeded, .budgetExhausted,
        ]
        #expect(giveUps.map(\.description) == GiveUpReason.labels)
        #expect(GiveUpReason.retryAfterTooLong(seconds: 1).description == "retry_after_too_long")
        #expect(RetryPolicy.idempotencyKey.canonicalName == "idempotency-key")
    }

    private func check(_ row: PolicyCase, sourceLocation: SourceLocation = #_sourceLocation) {
        let policy = RetryPolicy(configuration: row.configuration, requestTimeout: row.requestTimeout)
        var generator = SplitMix64(seed: 0x5EED)
        var asked = 0
        let decision = policy.decide(
            method: row.method,
            hasIdempotencyKey: row.idempotencyKey,
            finishedAttempt: row.attempt,
            outcome: row.outcome,
            elapsed: row.elapsed,
            using: &generator,
            spendBudget: {
                asked += 1
                return row.budget
            }
        )
        switch (row.expected, decision) {
        case (.retryAfter(let expectedWait, let expectedReason), .retry(let wait, let reason)):
            #expect(
                wait == expectedWait && reason == expectedReason, "\(row.name): \(decision)",
                sourceLocation: sourceLocation)
            #expect(asked == 1, "\(row.name): budget asked \(asked) times", sourceLocation: sourceLocation)
        case (.retryWithin(let cap, let expectedReason), .retry(let wait, let reason)):
            #expect(
                wait >= .zero && wait <= cap && reason == expectedReason, "\(row.name): \(decision)",
                sourceLocation: sourceLocation)
            #expect(asked == 1, "\(row.name): budget asked \(asked) times", sourceLocation: sourceLocation)
        case (.giveUp(let expectedReason), .giveUp(let reason)):
            #expect(reason == expectedReason, "\(row.name): \(decision)", sourceLocation: sourceLocation)
            if reason != .budgetExhausted {
                #expect(asked == 0, "\(row.name): budget asked for a refused retry", sourceLocation: sourceLocation)
            }
        default:
            Issue.record("\(row.name): expected \(row.expected), got \(decision)", sourceLocation: sourceLocation)
        }
    }
}
