import Foundation
import GatewayTestSupport
import NIOConcurrencyHelpers
import Testing
import VendorSimulator

/// Retries, timeouts and the circuit breaker end to end (SPEC section 2 `retry`, `timeouts`, `circuit_breaker`).
@Suite struct RetryTests {
    /// Fast backoff so that retries cost milliseconds.
    static func config(port: Int, extra: String = "") -> String {
        simpleConfig(
            url: "http://127.0.0.1:\(port)/dokstamp",
            upstream: """
                    timeouts: { connect: 1s, per_try: 2s, request: 5s }
                    retry:
                      attempts: 3
                      backoff: { base: 10ms, max: 20ms }
                      budget: { ratio: 0.2, min_per_second: 100 }
                \(extra)
                """)
    }

    @Test func recoversAfterTwoFailures() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request("GET", "/api/certificates?fail=2&key=recover")
                #expect(response.status == 200)
                #expect(response.header("gateway-attempts") == "3")
                #expect(response.bodyText.contains("\"success\":true"))
                #expect(sim.requestCount(path: "/dokstamp/certificates") == 3)

                let first = try await gateway.request("GET", "/api/certificates")
                #expect(first.status == 200)
                #expect(first.header("gateway-attempts") == nil)
            }
        }
    }

    @Test func exhaustionReturnsTheLastErrorNormalized() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request("GET", "/api/certificates?fail=10&key=exhaust")
                #expect(response.status == 503)
                #expect(response.header("gateway-attempts") == "3")
                let envelope = Envelope(response)
                #expect(envelope.source == "upstream")
                #expect(envelope.code == "upstream_unavailable")
                #expect(envelope.upstreamStatus == .some(503))
                #expect(envelope.upstreamName == "sim")
                #expect(sim.requestCount(path: "/dokstamp/certificates") == 3)
            }
        }
    }

    @Test func postIsNotRetriedOnceItReachedTheUpstream() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request(
                    "POST", "/api/certificates?fail=10&key=post", body: Array(#"{"a":1}"#.utf8))
                #expect(response.status == 503)
                #expect(response.header("gateway-attempts") == nil)
                #expect(Envelope(response).upstreamStatus == .some(503))
                #expect(sim.requestCount(path: "/dokstamp/certificates") == 1)
            }
        }
    }

    @Test func postWithIdempotencyKeyIsRetriedWithItsBody() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let body = Array(#"{"student":"7c9e","bytes":"\u0000é"}"#.utf8) + [0xFF, 0x00]
                let response = try await gateway.request(
                    "POST", "/api/certificates?fail=2&key=idem",
                    headers: [("Idempotency-Key", "k-123"), ("Content-Type", "application/json")], body: body)
                #expect(response.status == 201)
                #expect(response.header("gateway-attempts") == "3")
                let tries = sim.requests().filter { $0.path == "/dokstamp/certificates" }
                #expect(tries.count == 3)
                for attempt in tries {
                    #expect(attempt.method == "POST")
                    #expect(attempt.body == body)
                    #expect(attempt.header("Idempotency-Key") == "k-123")
                    #expect(attempt.header("Content-Length") == String(body.count))
                }
            }
        }
    }

    @Test func connectFailureIsRetriedEvenForPost() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        try await withGateway(yaml: Self.config(port: port)) { gateway in
            let response = try await gateway.request("POST", "/api/certificates", body: Array("x".utf8))
            #expect(response.status == 502)
            #expect(response.header("gateway-attempts") == "3")
            #expect(Envelope(response).code == "upstream_unavailable")
            #expect(Envelope(response).upstreamStatusIsNull)
        }
        withExtendedLifetime(refusing) {}
    }

    @Test func shortRetryAfterIsWaitedOut() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let start = ContinuousClock.now
                let response = try await gateway.request(
                    "GET", "/api/certificates?fail=1&key=short&fail_retry_after=1")
                let elapsed = ContinuousClock.now - start
                #expect(response.status == 200)
                #expect(response.header("gateway-attempts") == "2")
                #expect(elapsed >= .milliseconds(950), "the retry came after \(elapsed), before Retry-After: 1")
                // Generous (3 s flaked in a parallel run): only a retry that waited far past Retry-After fails it.
                #expect(elapsed < .seconds(8))
            }
        }
    }

    @Test func longRetryAfterIsReturnedAtOnce() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let start = ContinuousClock.now
                let response = try await gateway.request(
                    "GET", "/api/certificates?fail=1&key=long&fail_retry_after=100")
                // Not waited out (nor retried after a backoff): under the 10 s max_retry_after, with room for a
                // loaded machine (3 s flaked at a load of 9 on two cores); no retry is also `gateway-attempts` below.
                #expect(ContinuousClock.now - start < .seconds(8))
                #expect(response.status == 503)
                #expect(response.header("gateway-attempts") == nil)
                #expect(Envelope(response).retryAfter == 100)
                #expect(response.header("retry-after") == "100")
                #expect(sim.requestCount(path: "/dokstamp/certificates") == 1)
            }
        }
    }

    @Test func perTryTimeoutThenRetrySucceeds() async throws {
        let seen = NIOLockedValueBox(0)
        let ok = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello".utf8)
        try await withStub({ _ in
            let ordinal = seen.withLockedValue { count -> Int in
                count += 1
                return count
            }
            return ordinal == 1 ? .hold : .respond(ok)
        }) { stub in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(stub.port)",
                upstream: """
                        timeouts: { connect: 1s, per_try: 3s, request: 20s }
                        retry: { attempts: 3, backoff: { base: 10ms, max: 20ms } }
                    """)
            // per_try 3 s, not 600 ms: the second try must answer within it also on a loaded machine (it did not
            // once, and a third try ran).
            try await withGateway(yaml: yaml) { gateway in
                let start = ContinuousClock.now
                let response = try await gateway.request("GET", "/api/slow-once", timeout: .seconds(30))
                #expect(response.status == 200)
                #expect(response.bodyText == "hello")
                #expect(response.header("gateway-attempts") == "2")
                #expect(ContinuousClock.now - start >= .milliseconds(2950))
                #expect(stub.requests.count == 2)
            }
        }
    }

    @Test func circuitBreakerOpensFailsFastThenProbesAndCloses() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)/dokstamp",
                upstream: """
                        retry: { attempts: 1 }
                        circuit_breaker: { consecutive_failures: 3, open_for: 2s }
                    """)
            try await withGateway(yaml: yaml) { gateway in
                // The circuit opens while the third failure is handled: taken before it is sent, `openedAt` is a
                // lower bound of the opening, however long the response then takes to reach this client.
                var openedAt = ContinuousClock.now
                for _ in 0..<3 {
                    openedAt = ContinuousClock.now
                    let failure = try await gateway.request("GET", "/api/certificates?fail=100&key=breaker")
                    #expect(failure.status == 503)
                    #expect(Envelope(failure).source == "upstream")
                }
                #expect(sim.requestCount() == 3)

                // Open: fail fast, no upstream call, 503 with Retry-After.
                let fast = try await gateway.request("GET", "/api/certificates")
                #expect(fast.status == 503)
                let envelope = Envelope(fast)
                #expect(envelope.code == "upstream_unavailable")
                #expect(envelope.source == "gateway")
                #expect(envelope.upstreamName == "sim")
                let retryAfter = try #require(envelope.retryAfter)
                #expect((1...3).contains(retryAfter))
                #expect(fast.header("retry-after") == String(retryAfter))
                #expect(sim.requestCount() == 3)

                // After open_for, a probe goes through; its success closes the circuit.
                var probe: RawHTTPClient.Response?
                // Generous: on a loaded machine the probes after open_for take a while (8 s was not always enough).
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    let attempt = try await gateway.request("GET", "/api/certificates")
                    if attempt.status == 200 {
                        probe = attempt
                        break
                    }
                    #expect(attempt.status == 503)
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(probe != nil, "the circuit never closed")
                #expect(ContinuousClock.now - openedAt >= .milliseconds(1900))
                #expect(sim.requestCount() == 4)
                let after = try await gateway.request("GET", "/api/certificates")
                #expect(after.status == 200)
                #expect(sim.requestCount() == 5)
            }
        }
    }

    @Test func postIsNotRetriedAfterAResetOrTimeout() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)/dokstamp",
                upstream: """
                        timeouts: { connect: 1s, per_try: 5s, request: 10s }
                        retry: { attempts: 3, backoff: { base: 10ms, max: 20ms } }
                    """)
            // per_try 5 s, not 1 s: the reset must come before it also on a loaded machine (a 504 came first once).
            try await withGateway(yaml: yaml) { gateway in
                let reset = try await gateway.request(
                    "POST", "/api/certificates?fail=1&key=post-reset&fail_mode=reset", body: Array("{}".utf8))
                #expect(reset.status == 502)
                #expect(reset.header("gateway-attempts") == nil)
                #expect(sim.requestCount(path: "/dokstamp/certificates") == 1)

                let timeout = try await gateway.request(
                    "POST", "/api/certificates?hang=true", body: Array("{}".utf8))
                #expect(timeout.status == 504)
                #expect(timeout.header("gateway-attempts") == nil)
                #expect(sim.requestCount(path: "/dokstamp/certificates") == 2)

                // The same reset on a GET is retried.
                let get = try await gateway.request("GET", "/api/certificates?fail=1&key=get-reset&fail_mode=reset")
                #expect(get.status == 200)
                #expect(get.header("gateway-attempts") == "2")
            }
        }
    }

    @Test func retryAfterAsHTTPDateIsWholeSeconds() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)/stemp", upstream: "    dialect: stemp\n    retry: { attempts: 1 }")
            try await withGateway(yaml: yaml) { gateway in
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = TimeZone(identifier: "GMT")
                formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
                let date = formatter.string(from: Date().addingTimeInterval(30))
                let encoded = date.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? date
                let response = try await gateway.request(
                    "GET", "/api/v1/users?fail=1&key=date&fail_status=429&fail_retry_after=\(encoded)")
                #expect(response.status == 429)
                let envelope = Envelope(response)
                #expect(envelope.code == "rate_limited")
                let retryAfter = try #require(envelope.retryAfter)
                // Whole seconds, counted down from 30 by however long the request took (over 2 s on a loaded
                // machine once, so the range is wide at the bottom).
                #expect((20...31).contains(retryAfter), "retry_after \(retryAfter) for an HTTP-date 30 s ahead")
                #expect(response.header("retry-after") == String(retryAfter))
            }
        }
    }

    @Test func failedProbeReopensTheCircuit() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)/dokstamp",
                upstream: """
                        retry: { attempts: 1 }
                        circuit_breaker: { consecutive_failures: 2, open_for: 5s }
                    """)
            // open_for 5 s (not 2 s): the request after the failed probe must come while the circuit is open again,
            // and on a loaded machine 2 s between the two passed once.
            try await withGateway(yaml: yaml) { gateway in
                for _ in 0..<2 {
                    #expect(try await gateway.request("GET", "/api/certificates?fail=100&key=p").status == 503)
                }
                #expect(Envelope(try await gateway.request("GET", "/api/certificates")).source == "gateway")
                #expect(sim.requestCount() == 2)
                // Wait until a probe is let through (it fails: same failing key), then the circuit is open again.
                let probed = await eventually(within: .seconds(20)) {
                    _ = try? await gateway.request("GET", "/api/certificates?fail=100&key=p")
                    return sim.requestCount() == 3
                }
                #expect(probed)
                let again = try await gateway.request("GET", "/api/certificates")
                #expect(again.status == 503)
                #expect(Envelope(again).source == "gateway")
                #expect(sim.requestCount() == 3)
            }
        }
    }

    @Test func upstreamOutcomesAndRetriesAreCounted() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        try await withGateway(yaml: Self.config(port: port)) { gateway in
            _ = try await gateway.request("GET", "/api/certificates")
            let text = try await gateway.metrics()
            let outcomes = text.split(separator: "\n").filter {
                $0.hasPrefix("gateway_upstream_requests_total{") && $0.contains(#"outcome="connect_failure""#)
                    && $0.contains(#"upstream="sim""#)
            }
            #expect(outcomes.count == 1)
            #expect(outcomes.first.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } == 3)
            #expect(
                text.split(separator: "\n").contains {
                    $0.hasPrefix("gateway_retries_total{") && $0.contains(#"upstream="sim""#)
                })
        }
        withExtendedLifetime(refusing) {}
    }
}
