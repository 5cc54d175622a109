import GatewayTestSupport
import Testing

/// The retry budget end to end: when an upstream fails every request, retries add about `budget.ratio` of extra
/// load instead of multiplying it by `attempts`.
@Suite struct RetryBudgetTests {
    @Test func aFailingUpstreamGetsAboutTwentyPercentExtraLoad() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)/dokstamp",
                upstream: """
                        retry:
                          attempts: 3
                          backoff: { base: 1ms, max: 2ms }
                          budget: { ratio: 0.2, min_per_second: 0 }
                    """,
                top: "server: { access_log: false }")
            try await withGateway(yaml: yaml) { gateway in
                let requests = 200
                for index in 0..<requests {
                    // fail_status without fail: every try fails with a retryable 503.
                    let response = try await gateway.request("GET", "/api/certificates?fail_status=503&n=\(index)")
                    #expect(response.status == 503)
                }
                let upstreamCalls = sim.requestCount()
                let extra = Double(upstreamCalls - requests) / Double(requests)
                // Without a budget this would be 2.0 (three tries each); the budget holds it at the ratio. Over the
                // 10 s sliding window, that is: a run longer than the window (a loaded machine) may retry a little
                // more of the whole (21.5% once), so the upper bound has room; any amplification is far above it.
                #expect(extra > 0.15 && extra <= 0.3, "retries added \(extra * 100)% (\(upstreamCalls) upstream calls)")
                let metrics = try await gateway.metrics()
                #expect(metrics.contains(#"gateway_retries_total{upstream="sim",reason="status_5xx"}"#))
            }
        }
    }
}
