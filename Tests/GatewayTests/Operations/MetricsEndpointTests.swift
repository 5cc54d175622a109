import Foundation
import GatewayTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import VendorSimulator

@testable import Gateway

/// `/metrics`, `/healthz`, `/readyz` on the admin listener (SPEC section 6), with real sockets.
@Suite("Admin listener and metrics")
struct MetricsEndpointTests {
    @Test("counters and histograms move by exactly the traffic sent")
    func exactCounterDeltas() async throws {
        let simulator = try await VendorSimulator.start()
        try await withOpsGateway(yaml: opsConfig(simulatorPort: simulator.port), stopping: simulator) { gateway in
            for _ in 0..<3 {
                #expect(try await opsRequest(port: gateway.proxyPort, "/sim/dokstamp/certificates").status == 200)
            }
            // The first try fails with 503, the retry succeeds.
            #expect(
                try await opsRequest(port: gateway.proxyPort, "/sim/dokstamp/certificates?fail=1&key=metrics").status
                    == 200)
            for _ in 0..<2 {
                #expect(try await opsRequest(port: gateway.proxyPort, "/nowhere/at/all").status == 404)
            }
            #expect(try await opsRequest(port: gateway.proxyPort, "DELETE", "/sim/dokstamp/nope").status == 404)

            let samples = try await opsScrape(adminPort: gateway.adminPort)
            #expect(samples.value("gateway_requests_total", ["route": "sim", "method": "GET", "status": "200"]) == 4)
            #expect(
                samples.value("gateway_requests_total", ["route": "unmatched", "method": "GET", "status": "404"]) == 2)
            #expect(
                samples.value("gateway_requests_total", ["route": "sim", "method": "DELETE", "status": "404"]) == 1)
            #expect(samples.series("gateway_requests_total").map(\.value).reduce(0, +) == 7)
            #expect(samples.value("gateway_upstream_requests_total", ["upstream": "sim", "outcome": "response"]) == 6)
            #expect(samples.series("gateway_retries_total").map(\.value).reduce(0, +) == 1)
            #expect(samples.series("gateway_retries_total").allSatisfy { $0.labels["upstream"] == "sim" })
            #expect(
                samples.value(
                    "gateway_normalized_errors_total", ["source": "gateway", "upstream": "none", "code": "not_found"])
                    == 2)
            #expect(samples.value("gateway_inflight_requests") == 0)
            #expect(samples.value("gateway_request_duration_seconds_count", ["route": "sim"]) == 5)
            #expect(samples.value("gateway_upstream_duration_seconds_count", ["upstream": "sim"]) == 6)

            // Buckets from 1 ms to 30 s, then +Inf; cumulative, ending at the count.
            let buckets = samples.series("gateway_request_duration_seconds_bucket")
                .filter { $0.labels["route"] == "sim" }
            let bounds = buckets.compactMap { Double($0.labels["le"] ?? "") }.filter(\.isFinite).sorted()
            #expect(bounds.first == 0.001)
            #expect(bounds.last == 30)
            #expect(bounds.count == GatewayMetrics.latencyBuckets.count)
            #expect(buckets.first { $0.labels["le"] == "+Inf" }?.value == 5)

            // The start-up load is not a reload: both series exist, at zero; the timestamp is the start-up load's.
            let reloads = samples.series("gateway_config_reloads_total")
            #expect(Set(reloads.compactMap { $0.labels["result"] }) == ["success", "failure"], "\(reloads)")
            #expect(reloads.allSatisfy { $0.value == 0 }, "\(reloads)")
            let loadedAt = samples.value("gateway_config_last_reload_success_timestamp_seconds")
            #expect(abs(loadedAt - Date().timeIntervalSince1970) < 120)

            #expect(samples.value("process_resident_memory_bytes") > 1_000_000)
            #expect(samples.value("process_open_fds") > 3)
            #expect(samples.value("process_cpu_seconds_total") > 0)
            let started = samples.value("process_start_time_seconds")
            #expect(started > Date().timeIntervalSince1970 - 24 * 3600 && started <= Date().timeIntervalSince1970 + 1)
        }
    }

    @Test("labels stay bounded after many random paths and methods")
    func boundedLabels() async throws {
        let simulator = try await VendorSimulator.start()
        try await withOpsGateway(yaml: opsConfig(simulatorPort: simulator.port), stopping: simulator) { gateway in
            var random = SplitMix64(seed: 0x5EED)
            let methods = ["GET", "POST", "PROPFIND", "PURGE", "DELETE", "MKCOL"]
            var tokens: [String] = []
            for index in 0..<150 {
                let token = "r\(random.next() % 1_000_000_000)x\(index)"
                tokens.append(token)
                let path = index % 2 == 0 ? "/\(token)/deeper" : "/sim/\(token)?q=\(token)"
                let method = methods[Int(random.next() % UInt64(methods.count))]
                _ = try await opsRequest(port: gateway.proxyPort, method, path)
            }
            let response = try await opsRequest(port: gateway.adminPort, "/metrics")
            let samples = opsParseMetrics(response.bodyText)
            for token in tokens {
                #expect(!response.bodyText.contains(token))
            }
            let requestSeries = samples.series("gateway_requests_total")
            #expect(requestSeries.count <= 2 * 4 * 4)  // routes × method labels × statuses seen
            #expect(Set(requestSeries.compactMap { $0.labels["route"] }).isSubset(of: ["sim", "unmatched"]))
            let methodLabels = Set(requestSeries.compactMap { $0.labels["method"] })
            #expect(methodLabels.isSubset(of: ["GET", "POST", "DELETE", "OTHER"]))
            #expect(requestSeries.map(\.value).reduce(0, +) == 150)
        }
    }

    @Test("the admin listener answers fast while the proxy's connections and event loop are saturated")
    func adminAnswersUnderSaturation() async throws {
        let simulator = try await VendorSimulator.start()
        // One proxy loop, so that blocking it blocks the whole proxy; shut down however the test ends.
        try await withEventLoops(1) { proxyLoop in
            try await withOpsGateway(
                yaml: opsConfig(simulatorPort: simulator.port, server: "max_connections: 4"),
                proxyEventLoopGroup: proxyLoop, stopping: simulator
            ) { gateway in
                // Every allowed connection holds a slow request.
                var slow: [RawHTTPClient] = []
                for _ in 0..<4 {
                    let client = try await RawHTTPClient.connect(port: gateway.proxyPort)
                    try await client.send("GET /sim/dokstamp/certificates?delay=2500ms HTTP/1.1\r\nHost: x\r\n\r\n")
                    slow.append(client)
                }
                #expect(await eventually(within: .seconds(10)) { simulator.requestCount() >= 4 })
                // One more connection is refused.
                #expect(try await opsRequest(port: gateway.proxyPort, "/sim/dokstamp/certificates").status == 503)

                // Block the proxy's only event loop until the admin has answered; the admin listener has its own. An
                // order of events, not a stopwatch: an admin that shared the proxy's loop would answer nothing before
                // the gate opens, and its probes would time out.
                let gate = DispatchSemaphore(value: 0)
                proxyLoop.next().execute { gate.wait() }
                let probeAnswered = NIOLockedValueBox(false)
                async let proxyProbe = { () async -> Int? in
                    let probe = await opsBlockingGet(port: gateway.proxyPort, path: "/sim/x", timeout: .seconds(20))
                    probeAnswered.withLockedValue { $0 = true }
                    return probe?.status
                }()
                let health = await opsBlockingGet(port: gateway.adminPort, path: "/healthz", timeout: .seconds(10))
                let metrics = await opsBlockingGet(port: gateway.adminPort, path: "/metrics", timeout: .seconds(10))
                // The proxy itself was stuck meanwhile (proves the saturation was real): its probe has no answer yet.
                let proxyWasStuck = !probeAnswered.withLockedValue { $0 }
                gate.signal()
                #expect(health?.status == 200)
                #expect(metrics?.status == 200)
                #expect(proxyWasStuck, "the proxy answered while its event loop was blocked")
                // Once the loop runs again, the proxy answers the probe (503: its connections are all taken).
                #expect(await proxyProbe == 503)

                for client in slow {
                    #expect(try await client.readResponse(timeout: .seconds(10)).status == 200)
                    await client.close()
                }
            }
        }
    }

    @Test("readyz is 200 once serving; unknown paths 404; wrong methods 405")
    func healthEndpoints() async throws {
        let simulator = try await VendorSimulator.start()
        try await withOpsGateway(yaml: opsConfig(simulatorPort: simulator.port), stopping: simulator) {
            gateway throws in
            #expect(try await opsRequest(port: gateway.adminPort, "/healthz").status == 200)
            #expect(try await opsRequest(port: gateway.adminPort, "/readyz").status == 200)
            #expect(try await opsRequest(port: gateway.adminPort, "/nope").status == 404)
            // RFC 9110 section 15.5.6: a 405 names the methods the resource supports in `Allow`.
            let postMetrics = try await opsRequest(port: gateway.adminPort, "POST", "/metrics")
            #expect(postMetrics.status == 405)
            #expect(postMetrics.header("allow") == "GET, HEAD")
            let getReload = try await opsRequest(port: gateway.adminPort, "GET", "/reload")
            #expect(getReload.status == 405)
            #expect(getReload.header("allow") == "POST")
        }
    }
}
