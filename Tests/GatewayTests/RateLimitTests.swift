import Foundation
import GatewayTestSupport
import Testing

/// Rate limits through the real gateway (SPEC section 4): the memory store, and Redis shared by two gateways.
@Suite("Rate limits end to end", .serialized)
struct RateLimitTests {
    static func config(simPort: Int, store: String = "", policies: String, routeLimits: String) -> String {
        simpleConfig(
            url: "http://127.0.0.1:\(simPort)/dokai",
            route: "    rate_limits: \(routeLimits)",
            top: """
                server: { access_log: false }
                \(store)
                rate_limits:
                \(policies)
                """)
    }

    static let burst100 = "  burst100: { rate: 100/1h, burst: 100, key: global }"

    /// Sends `count` requests at once, each on its own connection, and returns their statuses.
    static func burst(_ gateway: RunningGateway, count: Int, path: String = "/api/v1/usage") async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<count {
                group.addTask { try await gateway.request("GET", path, timeout: .seconds(30)).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func headersOnAllowedAndDeniedResponsesAndTheUpstreamIsNotCalledWhenDenied() async throws {
        try await withSimulator { sim in
            // 3 per hour, so that no token comes back while the test runs, however slowly (at 3/1m one came back
            // under load and `Retry-After` said 18, not 20).
            let policies = "  per_client: { rate: 3/1h, burst: 3, key: client_ip }"
            let yaml = Self.config(simPort: sim.port, policies: policies, routeLimits: "[per_client]")
            try await withGateway(yaml: yaml) { gateway in
                // Dokai's own limit is 60 with 42 left: the gateway's 3 is more restrictive and wins.
                for expectedRemaining in [2, 1, 0] {
                    let allowed = try await gateway.request("GET", "/api/v1/usage")
                    #expect(allowed.status == 200)
                    #expect(allowed.header("x-ratelimit-limit") == "3")
                    #expect(allowed.header("x-ratelimit-remaining") == String(expectedRemaining))
                    // Dokai's own limit comes first as an item of its own (SPEC section 4), the gateway's after it.
                    #expect(allowed.header("ratelimit-policy") == "\"sim\";q=60, \"per_client\";q=3;w=3600")
                    #expect(allowed.header("ratelimit")?.hasPrefix("\"sim\";r=42;t=") == true)
                    #expect(allowed.header("ratelimit")?.contains(", \"per_client\";r=\(expectedRemaining);t=") == true)
                    let reset = Int(allowed.header("x-ratelimit-reset") ?? "") ?? 0
                    #expect(abs(reset - Int(Date().timeIntervalSince1970) - 1200 * (3 - expectedRemaining)) <= 30)
                }
                let upstreamCalls = sim.requestCount()
                let denied = try await gateway.request("GET", "/api/v1/usage")
                #expect(denied.status == 429)
                let envelope = Envelope(denied)
                #expect(envelope.code == "rate_limited")
                #expect(envelope.source == "gateway")
                // A token every 1200 s, the first taken a moment ago (how long a moment depends on the machine).
                let retryAfter = try #require(envelope.json["retry_after"] as? Int)
                #expect((1170...1200).contains(retryAfter))
                #expect(denied.header("retry-after") == String(retryAfter))
                #expect(denied.header("x-ratelimit-remaining") == "0")
                #expect(sim.requestCount() == upstreamCalls, "a denied request must not reach the upstream")
                let metrics = try await gateway.metrics()
                #expect(
                    metrics.contains(#"gateway_ratelimit_decisions_total{policy="per_client",decision="denied"} 1"#))
                #expect(
                    metrics.contains(#"gateway_ratelimit_decisions_total{policy="per_client",decision="allowed"} 3"#))
            }
        }
    }

    @Test func upstreamLimitsShowWhenTheyAreTighter() async throws {
        try await withSimulator { sim in
            // 1000 per hour: no token comes back between the two requests (at 1000/1m one did, 60 ms apart).
            let policies = "  roomy: { rate: 1000/1h, key: client_ip }"
            let yaml = Self.config(simPort: sim.port, policies: policies, routeLimits: "[roomy]")
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request("GET", "/api/v1/usage")
                // Dokai says 42 of 60 left; the gateway 999 of 1000: the client sees the upstream's picture, and the
                // gateway's policy is appended to the IETF fields.
                #expect(response.header("x-ratelimit-limit") == "60")
                #expect(response.header("x-ratelimit-remaining") == "42")
                #expect(response.header("ratelimit-policy")?.contains("\"roomy\";q=1000;w=3600") == true)
                // The IETF fields carry Dokai's limit too, as an item of its own before the gateway's.
                #expect(response.header("ratelimit")?.hasPrefix("\"sim\";r=42;t=") == true, "\(response.headers)")

                // Dokai's own 429 (X-RateLimit-Remaining: 0, no IETF fields), rewritten into the envelope: the IETF
                // fields must not show the gateway's roomy bucket alone (issue 12).
                let exhausted = try await gateway.request("GET", "/api/v1/usage?ratelimit=exhausted")
                #expect(exhausted.status == 429)
                #expect(Envelope(exhausted).source == "upstream")
                #expect(exhausted.header("x-ratelimit-remaining") == "0")
                #expect(exhausted.header("x-ratelimit-limit") == "60")
                let items = exhausted.header("ratelimit") ?? ""
                #expect(items.hasPrefix("\"sim\";r=0;t="), "\(exhausted.headers)")
                #expect(items.contains("\"roomy\";r=998;"), "\(exhausted.headers)")
                #expect(exhausted.header("ratelimit-policy")?.hasPrefix("\"sim\";q=60") == true, "\(exhausted.headers)")
            }
        }
    }

    @Test func aRequestDeniedByOnePolicyConsumesNothingFromTheOther() async throws {
        try await withSimulator { sim in
            let policies = """
                  tight: { rate: 1/1h, burst: 1, key: header:X-Tenant }
                  shared: { rate: 10/1h, burst: 10, key: global }
                """
            let yaml = Self.config(simPort: sim.port, policies: policies, routeLimits: "[tight, shared]")
            try await withGateway(yaml: yaml) { gateway in
                #expect(try await gateway.request("GET", "/api/v1/usage", headers: [("X-Tenant", "a")]).status == 200)
                for _ in 0..<5 {
                    #expect(
                        try await gateway.request("GET", "/api/v1/usage", headers: [("X-Tenant", "a")]).status == 429)
                }
                // `shared` lost one token to the first request only, none to the five denials: nine other
                // tenants still get through, and the tenth new one is denied by `shared`.
                for tenant in 1...9 {
                    let other = try await gateway.request("GET", "/api/v1/usage", headers: [("X-Tenant", "b\(tenant)")])
                    #expect(other.status == 200, "tenant b\(tenant)")
                }
                let last = try await gateway.request("GET", "/api/v1/usage", headers: [("X-Tenant", "b10")])
                #expect(last.status == 429)
                #expect(last.header("ratelimit")?.hasPrefix("\"shared\";r=0") == true, "\(last.headers)")
            }
        }
    }

    @Test func fourHundredConcurrentRequestsAgainstABurstOfHundredInMemory() async throws {
        try await withSimulator { sim in
            let yaml = Self.config(simPort: sim.port, policies: Self.burst100, routeLimits: "[burst100]")
            try await withGateway(yaml: yaml) { gateway in
                let statuses = try await Self.burst(gateway, count: 400)
                #expect(statuses.filter { $0 == 200 }.count == 100)
                #expect(statuses.filter { $0 == 429 }.count == 300)
            }
        }
    }

    @Test func fourHundredConcurrentRequestsAgainstABurstOfHundredInRedis() async throws {
        let redis = try await RedisTestServer()
        try await withSimulator { sim in
            let store = "rate_limit_store: { kind: redis, url: \"\(redis.url)\", timeout: 2s }"
            let yaml = Self.config(simPort: sim.port, store: store, policies: Self.burst100, routeLimits: "[burst100]")
            try await withGateway(yaml: yaml) { gateway in
                let statuses = try await Self.burst(gateway, count: 400)
                #expect(statuses.filter { $0 == 200 }.count == 100)
                #expect(statuses.filter { $0 == 429 }.count == 300)
            }
        }
        redis.kill()
    }

    @Test func twoGatewaysShareOneLimitThroughRedis() async throws {
        let redis = try await RedisTestServer()
        try await withSimulator { sim in
            let store = "rate_limit_store: { kind: redis, url: \"\(redis.url)\", timeout: 2s }"
            let policies = "  shared: { rate: 30/1h, burst: 30, key: global }"
            let yaml = Self.config(simPort: sim.port, store: store, policies: policies, routeLimits: "[shared]")
            try await withGateway(yaml: yaml) { first in
                try await withGateway(yaml: yaml) { second in
                    async let a = Self.burst(first, count: 40)
                    async let b = Self.burst(second, count: 40)
                    let statuses = try await a + b
                    #expect(statuses.filter { $0 == 200 }.count == 30)
                    #expect(statuses.filter { $0 == 429 }.count == 50)
                }
            }
        }
        redis.kill()
    }

    @Test(arguments: ["allow", "deny"])
    func redisKilledAndRestartedMidTest(onFailure: String) async throws {
        let redis = try await RedisTestServer()
        try await withSimulator { sim in
            let store =
                "rate_limit_store: { kind: redis, url: \"\(redis.url)\", on_failure: \(onFailure), timeout: 100ms }"
            let policies = "  roomy: { rate: 1000/1m, key: client_ip }"
            let yaml = Self.config(simPort: sim.port, store: store, policies: policies, routeLimits: "[roomy]")
            try await withGateway(yaml: yaml) { gateway in
                #expect(
                    await eventually(within: .seconds(10)) {
                        (try? await gateway.request("GET", "/api/v1/usage").header("ratelimit-policy")) != nil
                    })
                redis.kill()
                // Every request gets a defined answer while Redis is down, quickly (the breaker stops waiting).
                var answers: [Int] = []
                let started = ContinuousClock.now
                for _ in 0..<20 {
                    let response = try await gateway.request("GET", "/api/v1/usage")
                    answers.append(response.status)
                    if onFailure == "deny" {
                        #expect(Envelope(response).code == "service_unavailable")
                    }
                }
                #expect(answers.allSatisfy { $0 == (onFailure == "allow" ? 200 : 503) }, "\(answers)")
                // Kept, and generous: twenty calls bounded by the store's 100 ms timeout take 2 s at most; calls
                // that ignored it would wait for the killed server and not come back.
                #expect(ContinuousClock.now - started < .seconds(10))
                #expect(try await gateway.metrics().contains("gateway_ratelimit_store_degraded 1"))

                try await redis.start()
                // It recovers by itself: limits are enforced (and reported) again.
                #expect(
                    await eventually(within: .seconds(15)) {
                        let response = try? await gateway.request("GET", "/api/v1/usage")
                        return response?.status == 200 && response?.header("ratelimit-policy") != nil
                    })
                #expect(
                    await eventually(within: .seconds(5)) {
                        (try? await gateway.metrics().contains("gateway_ratelimit_store_degraded 0")) == true
                    })
            }
        }
        redis.kill()
    }

    @Test func aWrongRedisPasswordFollowsOnFailure() async throws {
        let redis = try await RedisTestServer(password: "right")
        try await withSimulator { sim in
            let url = "redis://:wrong@127.0.0.1:\(redis.port)/0"
            let store = "rate_limit_store: { kind: redis, url: \"\(url)\", on_failure: deny, timeout: 200ms }"
            let policies = "  roomy: { rate: 1000/1m, key: client_ip }"
            let yaml = Self.config(simPort: sim.port, store: store, policies: policies, routeLimits: "[roomy]")
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request("GET", "/api/v1/usage")
                #expect(response.status == 503)
                #expect(Envelope(response).code == "service_unavailable")
                #expect(sim.requestCount() == 0)
            }
        }
        redis.kill()
    }

    @Test func scriptFlushedFromRedisIsLoadedAgain() async throws {
        let redis = try await RedisTestServer()
        try await withSimulator { sim in
            let store = "rate_limit_store: { kind: redis, url: \"\(redis.url)\", timeout: 2s }"
            let policies = "  five: { rate: 5/1h, burst: 5, key: global }"
            let yaml = Self.config(simPort: sim.port, store: store, policies: policies, routeLimits: "[five]")
            try await withGateway(yaml: yaml) { gateway in
                #expect(try await Self.burst(gateway, count: 3).allSatisfy { $0 == 200 })
                #expect(try await redis.command("SCRIPT FLUSH") == "+OK")
                let statuses = try await Self.burst(gateway, count: 4)
                #expect(statuses.filter { $0 == 200 }.count == 2)
                #expect(statuses.filter { $0 == 429 }.count == 2)
            }
        }
        redis.kill()
    }
}

extension RateLimitTests {
    @Test func bucketsOfUnchangedPoliciesSurviveAReload() async throws {
        try await withSimulator { sim in
            let policies = "  three: { rate: 3/1h, burst: 3, key: client_ip }"
            let yaml = Self.config(simPort: sim.port, policies: policies, routeLimits: "[three]")
            try await withGateway(yaml: yaml) { gateway in
                #expect(try await gateway.request("GET", "/api/v1/usage").status == 200)
                #expect(try await gateway.request("GET", "/api/v1/usage").status == 200)
                // Reload a file that changes something else (a new route): the `three` bucket keeps its state.
                let changed =
                    yaml + """

                          - name: extra
                            path_prefix: /extra/
                            strip_prefix: true
                            upstream: sim
                        """
                try changed.write(toFile: gateway.configPath, atomically: true, encoding: .utf8)
                #expect(try await gateway.admin("POST", "/reload").status == 200)
                #expect(try await gateway.request("GET", "/extra/v1/usage").status == 200)
                let third = try await gateway.request("GET", "/api/v1/usage")
                #expect(third.status == 200)
                #expect(third.header("x-ratelimit-remaining") == "0")
                #expect(try await gateway.request("GET", "/api/v1/usage").status == 429)
            }
        }
    }
}

/// Issue 12: a bucket is its policy's name plus the key (SPEC section 4), however many policies of a route name the
/// same header, and upstream limits are never made to look looser in either header form.
extension RateLimitTests {
    /// Policies `two` and `three` both key on `X-Client`; `/pair/` lists both, `/three/` lists `three` alone.
    static func sharedHeaderConfig(simPort: Int, store: String) -> String {
        """
        server: { access_log: false }
        \(store)
        rate_limits:
          two: { rate: 2/1m, key: "header:X-Client" }
          three: { rate: 3/1m, key: "header:X-Client" }
        upstreams:
          sim:
            url: http://127.0.0.1:\(simPort)/dokai
        routes:
          - { path_prefix: /pair/, strip_prefix: true, upstream: sim, rate_limits: [two, three] }
          - { path_prefix: /three/, strip_prefix: true, upstream: sim, rate_limits: [three] }
        """
    }

    @Test(arguments: ["memory", "redis"])
    func aClientCannotEscapeASharedLimitBySwitchingRoutes(store: String) async throws {
        let redis = store == "redis" ? try await RedisTestServer() : nil
        try await withSimulator { sim in
            let storeYAML = redis.map { "rate_limit_store: { kind: redis, url: \"\($0.url)\", timeout: 2s }" } ?? ""
            try await withGateway(yaml: Self.sharedHeaderConfig(simPort: sim.port, store: storeYAML)) { gateway in
                let client = [("X-Client", "p")]
                for _ in 0..<2 {
                    #expect(try await gateway.request("GET", "/pair/v1/usage", headers: client).status == 200)
                }
                // `three` lost two tokens on /pair/: one is left for /three/, then it is spent.
                let third = try await gateway.request("GET", "/three/v1/usage", headers: client)
                #expect(third.status == 200)
                #expect(third.header("x-ratelimit-remaining") == "0", "\(third.headers)")
                #expect(third.header("ratelimit")?.contains("\"three\";r=0;") == true, "\(third.headers)")
                let fourth = try await gateway.request("GET", "/three/v1/usage", headers: client)
                #expect(fourth.status == 429)
                #expect(Envelope(fourth).code == "rate_limited")
                // Another client is untouched.
                let other = try await gateway.request("GET", "/three/v1/usage", headers: [("X-Client", "q")])
                #expect(other.status == 200)
                #expect(other.header("ratelimit")?.contains("\"three\";r=2;") == true, "\(other.headers)")
            }
        }
        redis?.kill()
    }

    /// A policy keyed on `X-Forwarded-For` counts the header as sent: its bucket is `h` and the value once, whether
    /// or not the peer is a trusted proxy (whose `X-Forwarded-For` the gateway also reads for client IPs). The Redis
    /// store shows the key.
    @Test(arguments: [false, true])
    func aPolicyKeyedOnXForwardedForCountsTheHeaderOnce(trustLoopback: Bool) async throws {
        let redis = try await RedisTestServer()
        try await withSimulator { sim in
            let yaml = """
                server: { access_log: false\(trustLoopback ? ", trusted_proxies: [127.0.0.1/32]" : "") }
                rate_limit_store: { kind: redis, url: "\(redis.url)", timeout: 2s }
                rate_limits:
                  by_forwarded: { rate: 5/1m, key: "header:X-Forwarded-For" }
                upstreams:
                  sim:
                    url: http://127.0.0.1:\(sim.port)/dokai
                routes:
                  - { path_prefix: /, upstream: sim, rate_limits: [by_forwarded] }
                """
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request(
                    "GET", "/v1/usage", headers: [("X-Forwarded-For", "203.0.113.7")])
                #expect(response.status == 200)
                #expect(response.header("x-ratelimit-remaining") == "4", "\(response.headers)")
                #expect(try await redis.command("EXISTS {gw}:rl:12:by_forwarded:h203.0.113.7") == ":1")
            }
        }
        redis.kill()
    }

    /// An upstream that speaks only the IETF fields: `RateLimit: "vendor";r=0;t=30`.
    static func ietfOnlyUpstream(status: Int) -> [UInt8] {
        let body =
            status == 200 ? "{\"ok\":true}" : "{\"error\":{\"code\":\"rate_limited\",\"message\":\"Slow down.\"}}"
        let head =
            "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Too Many Requests")\r\nContent-Type: application/json\r\n"
            + "RateLimit-Policy: \"vendor\";q=100;w=60\r\nRateLimit: \"vendor\";r=0;t=30\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n"
        return Array((head + body).utf8)
    }

    @Test(arguments: [200, 429])
    func anUpstreamsIETFLimitShowsInTheXFields(status: Int) async throws {
        try await withStub({ _ in .respond(Self.ietfOnlyUpstream(status: status)) }) { stub in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(stub.port)", upstream: "    retry: { attempts: 1 }",
                route: "    rate_limits: [roomy]",
                top: "server: { access_log: false }\nrate_limits:\n  roomy: { rate: 1000/1m, key: client_ip }")
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request("GET", "/api/x")
                #expect(response.status == status)
                // The vendor said zero: the X- fields must not say 999.
                #expect(response.header("x-ratelimit-remaining") == "0", "\(response.headers)")
                #expect(response.header("x-ratelimit-limit") == "100", "\(response.headers)")
                let reset = Int(response.header("x-ratelimit-reset") ?? "") ?? 0
                #expect(abs(reset - Int(Date().timeIntervalSince1970) - 30) <= 2, "\(response.headers)")
                // The vendor's items are kept and the gateway's appended.
                let items = response.header("ratelimit") ?? ""
                #expect(items.hasPrefix("\"vendor\";r=0;t=30, \"roomy\";r=999;"), "\(response.headers)")
                #expect(
                    response.header("ratelimit-policy")?.hasPrefix("\"vendor\";q=100;w=60, \"roomy\";q=1000") == true,
                    "\(response.headers)")
            }
        }
    }
}
