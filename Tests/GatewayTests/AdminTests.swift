import Foundation
import GatewayTestSupport
import Testing
import VendorSimulator

/// The admin listener (SPEC section 6): health, readiness, metrics with bounded labels, reload.
@Suite struct AdminTests {
    @Test func healthAndReadiness() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                let health = try await gateway.admin("GET", "/healthz")
                #expect(health.status == 200)
                // Ready once bound (the harness only gets here after both listeners are bound).
                #expect(await eventually { (try? await gateway.admin("GET", "/readyz").status) == 200 })
                #expect(try await gateway.admin("GET", "/nope").status == 404)
            }
        }
    }

    @Test func metricsHaveRouteLabelsAndNeverRawPaths() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                var generator = SplitMix64(seed: 7)
                var paths: [String] = []
                try await withClient(port: gateway.proxyPort) { client in
                    for _ in 0..<200 {
                        let path = "/rnd\(generator.next() % 1_000_000_007)x"
                        paths.append(path)
                        try await client.send(RunningGateway.requestBytes("GET", path))
                        #expect(try await client.readResponse().status == 404)
                    }
                    try await client.send(RunningGateway.requestBytes("GET", "/api/dokstamp/certificates"))
                    #expect(try await client.readResponse().status == 200)
                    try await client.send(RunningGateway.requestBytes("FROB", "/api/dokstamp/certificates"))
                    _ = try await client.readResponse()
                }
                let text = try await gateway.metrics()
                let requestLines = text.split(separator: "\n").filter { $0.hasPrefix("gateway_requests_total{") }
                #expect(requestLines.contains { $0.contains(#"route="api""#) && $0.contains(#"status="200""#) })
                #expect(requestLines.contains { $0.contains(#"route="unmatched""#) && $0.contains(#"status="404""#) })
                let unmatched404 = requestLines.first {
                    $0.contains(#"route="unmatched""#) && $0.contains(#"status="404""#) && $0.contains(#"method="GET""#)
                }
                #expect(unmatched404.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } == 200)
                #expect(requestLines.count < 10, "label cardinality grew: \(requestLines.count) series")
                for path in paths.prefix(50) {
                    #expect(!text.contains(path.dropFirst()), "raw path \(path) appears in /metrics")
                }
                #expect(!text.contains("FROB"), "a non-standard method leaked into a label")
                #expect(text.contains("gateway_request_duration_seconds"))
                #expect(text.contains("gateway_upstream_requests_total"))
            }
        }
    }

    @Test func reloadSwapsRoutesAndRejectsInvalidFiles() async throws {
        try await withSimulator { sim in
            let original = simpleConfig(url: "http://127.0.0.1:\(sim.port)")
            try await withGateway(yaml: original) { gateway in
                #expect(try await gateway.request("GET", "/api/dokstamp/certificates").status == 200)

                // A held keep-alive connection survives the reload.
                let held = try await RawHTTPClient.connect(port: gateway.proxyPort)
                try await held.send(RunningGateway.requestBytes("GET", "/api/dokstamp/certificates"))
                #expect(try await held.readResponse().status == 200)

                let changed = """
                    upstreams:
                      sim:
                        url: http://127.0.0.1:\(sim.port)
                    routes:
                      - name: v2
                        path_prefix: /v2/
                        strip_prefix: true
                        upstream: sim
                    """
                try changed.write(toFile: gateway.configPath, atomically: true, encoding: .utf8)
                let reloaded = try await gateway.admin("POST", "/reload")
                #expect(reloaded.status == 200)
                #expect(try await gateway.request("GET", "/v2/dokstamp/certificates").status == 200)
                let old = try await gateway.request("GET", "/api/dokstamp/certificates")
                #expect(old.status == 404)
                #expect(Envelope(old).source == "gateway")
                try await held.send(RunningGateway.requestBytes("GET", "/v2/dokstamp/certificates"))
                #expect(try await held.readResponse().status == 200)
                await held.close()

                let invalid = """
                    upstreams:
                      sim:
                        url: http://127.0.0.1:\(sim.port)
                        bogus_key: 1
                    routes:
                      - path_prefix: /v3/
                        upstream: missing
                    """
                try invalid.write(toFile: gateway.configPath, atomically: true, encoding: .utf8)
                let rejected = try await gateway.admin("POST", "/reload")
                #expect(rejected.status == 422)
                let lines = rejected.bodyText.split(separator: "\n")
                #expect(!lines.isEmpty)
                for line in lines {
                    #expect(
                        line.wholeMatch(of: /.+:\d+:\d+: .+/) != nil && line.hasPrefix(gateway.configPath + ":"),
                        "not PATH:LINE:COLUMN: message: \(line)")
                }
                #expect(lines.contains { $0.hasPrefix(gateway.configPath + ":4:") && $0.contains("bogus_key") })
                // The previous config still serves.
                #expect(try await gateway.request("GET", "/v2/dokstamp/certificates").status == 200)
                #expect(try await gateway.request("GET", "/v3/x").status == 404)
            }
        }
    }
}
