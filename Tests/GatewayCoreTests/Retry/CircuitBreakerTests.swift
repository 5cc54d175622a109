import GatewayCore
import Testing

@Suite("CircuitBreaker")
struct CircuitBreakerTests {
    private let start = ContinuousClock.now
    private let configuration = CircuitBreakerConfiguration(consecutiveFailures: 3, openFor: .seconds(10))

    private func at(_ milliseconds: Int) -> ContinuousClock.Instant {
        self.start + .milliseconds(milliseconds)
    }

    /// A breaker opened by three failures at `at(0)`.
    private func openedBreaker() -> CircuitBreaker {
        var breaker = CircuitBreaker(configuration: self.configuration)
        for _ in 0..<2 {
            #expect(breaker.requestStarting(now: self.at(0)) == .proceed)
            #expect(breaker.requestFinished(.failure, wasProbe: false, now: self.at(0)) == .none)
        }
        #expect(breaker.requestStarting(now: self.at(0)) == .proceed)
        #expect(breaker.requestFinished(.failure, wasProbe: false, now: self.at(0)) == .opened(for: .seconds(10)))
        #expect(breaker.phase == .open)
        return breaker
    }

    @Test("closed: requests proceed, and consecutive_failures failures in a row open the circuit")
    func opensAfterConsecutiveFailures() {
        _ = self.openedBreaker()
    }

    @Test("a success in between resets the count")
    func successResets() {
        var breaker = CircuitBreaker(configuration: self.configuration)
        for outcome in [CircuitBreaker.Outcome.failure, .failure, .success, .failure, .failure] {
            #expect(breaker.requestStarting(now: self.at(0)) == .proceed)
            #expect(breaker.requestFinished(outcome, wasProbe: false, now: self.at(0)) == .none)
        }
        #expect(breaker.phase == .closed)
        #expect(breaker.requestFinished(.failure, wasProbe: false, now: self.at(0)) == .opened(for: .seconds(10)))
    }

    @Test("neutral ends neither count as failures nor reset the count")
    func neutralDoesNotCount() {
        var breaker = CircuitBreaker(configuration: self.configuration)
        _ = breaker.requestFinished(.failure, wasProbe: false, now: self.at(0))
        _ = breaker.requestFinished(.failure, wasProbe: false, now: self.at(0))
        for _ in 0..<20 {
            #expect(breaker.requestFinished(.neutral, wasProbe: false, now: self.at(0)) == .none)
            #expect(breaker.requestFinished(.init(errorCode: .cancelled), wasProbe: false, now: self.at(0)) == .none)
        }
        #expect(breaker.phase == .closed)
        #expect(breaker.requestFinished(.failure, wasProbe: false, now: self.at(0)) == .opened(for: .seconds(10)))
    }

    @Test("a 4xx is not a failure: it resets the count like any answer")
    func clientErrorsDoNotCount() {
        var breaker = CircuitBreaker(configuration: self.configuration)
        for status in [503, 502, 404, 500, 504, 429, 502, 503, 400, 401] {
            #expect(breaker.requestFinished(.init(status: status), wasProbe: false, now: self.at(0)) == .none)
        }
        #expect(breaker.phase == .closed)
        _ = breaker.requestFinished(.init(status: 500), wasProbe: false, now: self.at(0))
        _ = breaker.requestFinished(.init(status: 500), wasProbe: false, now: self.at(0))
        let action = breaker.requestFinished(.init(status: 500), wasProbe: false, now: self.at(0))
        #expect(action == .opened(for: .seconds(10)))
    }

    @Test("open: requests fail fast with retryAfter equal to the time left")
    func openFailsFast() {
        var breaker = self.openedBreaker()
        #expect(breaker.requestStarting(now: self.at(0)) == .failFast(retryAfter: .seconds(10)))
        #expect(breaker.requestStarting(now: self.at(3_000)) == .failFast(retryAfter: .seconds(7)))
        #expect(breaker.requestStarting(now: self.at(9_999)) == .failFast(retryAfter: .milliseconds(1)))
        #expect(breaker.phase == .open)
    }

    @Test("tries that started before the circuit opened do not change it")
    func stragglersIgnored() {
        var breaker = self.openedBreaker()
        #expect(breaker.requestFinished(.success, wasProbe: false, now: self.at(100)) == .none)
        #expect(breaker.requestFinished(.failure, wasProbe: false, now: self.at(200)) == .none)
        #expect(breaker.requestStarting(now: self.at(1_000)) == .failFast(retryAfter: .seconds(9)))
        // And while half-open.
        #expect(breaker.requestStarting(now: self.at(10_000)) == .proceedAsProbe)
        #expect(breaker.requestFinished(.success, wasProbe: false, now: self.at(10_001)) == .none)
        #expect(breaker.requestFinished(.failure, wasProbe: false, now: self.at(10_002)) == .none)
        #expect(breaker.phase == .halfOpen)
    }

    @Test("after open_for exactly one probe goes; the others fail fast while it is in flight")
    func singleProbe() {
        var breaker = self.openedBreaker()
        #expect(breaker.requestStarting(now: self.at(10_000)) == .proceedAsProbe)
        #expect(breaker.phase == .halfOpen)
        for offset in 0..<5 {
            #expect(breaker.requestStarting(now: self.at(10_000 + offset)) == .failFast(retryAfter: .seconds(1)))
        }
        // Even long after, while the probe has not finished.
        #expect(breaker.requestStarting(now: self.at(60_000)) == .failFast(retryAfter: .seconds(1)))
    }

    @Test("the probe's success closes the circuit")
    func probeSuccess() {
        var breaker = self.openedBreaker()
        #expect(breaker.requestStarting(now: self.at(12_000)) == .proceedAsProbe)
        #expect(breaker.requestFinished(.init(status: 200), wasProbe: true, now: self.at(12_500)) == .closed)
        #expect(breaker.phase == .closed)
        #expect(breaker.requestStarting(now: self.at(12_501)) == .proceed)
        #expect(breaker.requestStarting(now: self.at(12_502)) == .proceed)
        // The count starts again from zero.
        _ = breaker.requestFinished(.failure, wasProbe: false, now: self.at(13_000))
        _ = breaker.requestFinished(.failure, wasProbe: false, now: self.at(13_000))
        #expect(breaker.phase == .closed)
    }

    @Test("a probe answered with a 4xx closes the circuit: the upstream is up")
    func probeClientError() {
        var breaker = self.openedBreaker()
        #expect(breaker.requestStarting(now: self.at(10_000)) == .proceedAsProbe)
        #expect(breaker.requestFinished(.init(status: 422), wasProbe: true, now: self.at(10_100)) == .closed)
    }

    @Test("the probe's failure reopens the circuit for open_for from the failure")
    func probeFailure() {
        var breaker = self.openedBreaker()
        #expect(breaker.requestStarting(now: self.at(10_000)) == .proceedAsProbe)
        let action = breaker.requestFinished(.init(errorCode: .timedOut), wasProbe: true, now: self.at(12_000))
        #expect(action == .opened(for: .seconds(10)))
        #expect(breaker.phase == .open)
        #expect(breaker.requestStarting(now: self.at(12_000)) == .failFast(retryAfter: .seconds(10)))
        #expect(breaker.requestStarting(now: self.at(21_500)) == .failFast(retryAfter: .milliseconds(500)))
        #expect(breaker.requestStarting(now: self.at(22_000)) == .proceedAsProbe)
    }

    @Test("a probe that ends neutral (cancelled) lets the next request be the probe")
    func probeNeutral() {
        var breaker = self.openedBreaker()
        #expect(breaker.requestStarting(now: self.at(10_000)) == .proceedAsProbe)
        #expect(breaker.requestFinished(.init(errorCode: .cancelled), wasProbe: true, now: self.at(10_100)) == .none)
        #expect(breaker.phase == .halfOpen)
        #expect(breaker.requestStarting(now: self.at(10_200)) == .proceedAsProbe)
        #expect(breaker.requestStarting(now: self.at(10_200)) == .failFast(retryAfter: .seconds(1)))
        #expect(breaker.requestFinished(.success, wasProbe: true, now: self.at(10_300)) == .closed)
    }

    @Test("the probe's retryAfter is configurable; consecutive_failures below 1 means 1")
    func settings() {
        var breaker = CircuitBreaker(
            configuration: .init(consecutiveFailures: 0, openFor: .seconds(2)),
            probeRetryAfter: .milliseconds(250)
        )
        #expect(breaker.consecutiveFailures == 1)
        #expect(breaker.requestFinished(.failure, wasProbe: false, now: self.at(0)) == .opened(for: .seconds(2)))
        #expect(breaker.requestStarting(now: self.at(2_000)) == .proceedAsProbe)
        #expect(breaker.requestStarting(now: self.at(2_000)) == .failFast(retryAfter: .milliseconds(250)))
    }

    @Test("outcome classification: 5xx and upstream transport failures count, the rest does not")
    func outcomeClassification() {
        for status in [500, 502, 503, 504, 599] {
            #expect(CircuitBreaker.Outcome(status: status) == .failure, "\(status)")
        }
        for status in [200, 204, 301, 400, 401, 404, 408, 429, 499] {
            #expect(CircuitBreaker.Outcome(status: status) == .success, "\(status)")
        }
        let failures: [UpstreamError.Code] = [
            .connectFailed, .dnsFailed, .tlsFailed, .timedOut, .connectionReset, .gotNothing, .protocolError,
        ]
        for code in failures {
            #expect(CircuitBreaker.Outcome(errorCode: code) == .failure, "\(code)")
        }
        #expect(CircuitBreaker.Outcome(errorCode: .cancelled) == .neutral)
        #expect(CircuitBreaker.Outcome(errorCode: .overloaded) == .neutral)
    }

    @Test("the shared breaker lets exactly one of many concurrent requests probe")
    func sharedSingleProbe() async {
        let breaker = SharedCircuitBreaker(self.openedBreaker())
        let now = self.at(10_000)
        let actions = await withTaskGroup(of: CircuitBreaker.StartAction.self) { group in
            for _ in 0..<200 {
                group.addTask { breaker.requestStarting(now: now) }
            }
            return await group.reduce(into: [CircuitBreaker.StartAction]()) { $0.append($1) }
        }
        #expect(actions.count(where: { $0 == .proceedAsProbe }) == 1)
        #expect(actions.count(where: { $0 == .failFast(retryAfter: .seconds(1)) }) == 199)
        #expect(breaker.phase == .halfOpen)
        #expect(breaker.requestFinished(.success, wasProbe: true, now: self.at(10_050)) == .closed)
        #expect(breaker.phase == .closed)
    }

    @Test("phase labels are stable")
    func phaseLabels() {
        #expect(CircuitBreaker.Phase.allCases.map(\.description) == ["closed", "open", "half_open"])
    }
}
