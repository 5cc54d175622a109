import Foundation
import GatewayCore
import GatewayTestSupport
import NIOConcurrencyHelpers
import Testing

/// `quota_shield` end to end: a real upstream says its limit is spent, and the gateway stops calling it.
@Suite struct QuotaShieldEndToEndTests {
    static func response(_ status: String, _ headers: [String], body: String = "{}") -> [UInt8] {
        let head =
            (["HTTP/1.1 \(status)", "Content-Type: application/json", "Content-Length: \(body.utf8.count)"]
            + headers).joined(separator: "\r\n")
        return Array((head + "\r\n\r\n" + body).utf8)
    }

    static let spent = response(
        "429 Too Many Requests",
        ["Retry-After: 30", "X-RateLimit-Limit: 100", "X-RateLimit-Remaining: 0", "X-RateLimit-Reset: 30"],
        body: #"{"error":{"message":"Too many requests"}}"#)
    static let ok = response("200 OK", ["X-RateLimit-Limit: 100", "X-RateLimit-Remaining: 7"])

    /// `shield` is the upstream's `quota_shield` value; retries of 429 are off so the first 429 reaches the client.
    static func config(port: Int, shield: String = "{}", top: String = "") -> String {
        simpleConfig(
            url: "http://127.0.0.1:\(port)",
            upstream: "    quota_shield: \(shield)\n    retry: { retry_on: [connect_failure] }\n", top: top)
    }

    @Test func afterA429WithRetryAfterTheGatewayAnswersItselfCountingDown() async throws {
        let calls = NIOLockedValueBox(0)
        try await withStub({ _ in
            calls.withLockedValue { $0 += 1 }
            return .respond(Self.spent)
        }) { stub in
            try await withGateway(yaml: Self.config(port: stub.port)) { gateway in
                let first = try await gateway.request("GET", "/api/things")
                #expect(first.status == 429)
                #expect(Envelope(first).source == "upstream")

                let second = try await gateway.request("GET", "/api/other")
                #expect(second.status == 429)
                let envelope = Envelope(second)
                #expect(envelope.code == "rate_limited")
                #expect(envelope.source == "gateway")
                #expect(envelope.upstreamName == "sim")
                #expect(envelope.retryable == true)
                let retryAfter = try #require(envelope.retryAfter)
                #expect((1...30).contains(retryAfter))
                #expect(second.header("retry-after") == String(retryAfter))
                #expect(second.header("x-ratelimit-remaining") == "0")
                #expect(second.header("x-ratelimit-limit") == "100")
                #expect(calls.withLockedValue { $0 } == 1, "the upstream was not called again")

                let metrics = try await gateway.metrics()
                #expect(metrics.contains(#"gateway_quota_shield_total{upstream="sim"} 1"#), "\(metrics)")
            }
        }
    }

    @Test func aQuotaSaidSpentOnA2xxIsAnsweredAsQuotaExceeded() async throws {
        let calls = NIOLockedValueBox(0)
        let lastCall = Self.response("200 OK", ["X-Quota-Limit: 1000", "X-Quota-Remaining: 0", "X-Quota-Reset: 600"])
        try await withStub({ _ in
            calls.withLockedValue { $0 += 1 }
            return .respond(lastCall)
        }) { stub in
            try await withGateway(yaml: Self.config(port: stub.port)) { gateway in
                #expect(try await gateway.request("GET", "/api/a").status == 200)
                let shielded = try await gateway.request("GET", "/api/a")
                #expect(shielded.status == 429)
                #expect(Envelope(shielded).code == "quota_exceeded")
                #expect(Envelope(shielded).retryable == false)
                #expect(shielded.header("x-quota-remaining") == "0")
                #expect((Envelope(shielded).retryAfter ?? 0) > 500)
                #expect(calls.withLockedValue { $0 } == 1)
            }
        }
    }

    @Test func aHeaderKeyShieldsOnlyThatClientsCredentials() async throws {
        try await withStub({ request in
            request.header("Authorization") == "Bearer spent" ? .respond(Self.spent) : .respond(Self.ok)
        }) { stub in
            try await withGateway(yaml: Self.config(port: stub.port, shield: "{ key: header:Authorization }")) {
                gateway in
                let spent = [("Authorization", "Bearer spent")]
                let fine = [("Authorization", "Bearer fine")]
                #expect(try await gateway.request("GET", "/api/x", headers: spent).status == 429)
                #expect(try await gateway.request("GET", "/api/x", headers: fine).status == 200)
                let shielded = try await gateway.request("GET", "/api/x", headers: spent)
                #expect(Envelope(shielded).source == "gateway")
                #expect(try await gateway.request("GET", "/api/x", headers: fine).status == 200)
            }
            #expect(stub.requests.count == 3)
        }
    }

    @Test func aResetBeyondMaxWaitIsNotTrusted() async throws {
        let far = Self.response("429 Too Many Requests", ["Retry-After: 7200"])
        try await withStub({ _ in .respond(far) }) { stub in
            try await withGateway(yaml: Self.config(port: stub.port)) { gateway in
                let first = try await gateway.request("GET", "/api/x")
                let second = try await gateway.request("GET", "/api/x")
                #expect(Envelope(first).source == "upstream")
                #expect(Envelope(second).source == "upstream")
            }
            #expect(stub.requests.count == 2)
        }
    }

    @Test func withRedisEveryInstanceIsShieldedAndTheKeyIsHashed() async throws {
        let redis = try await RedisTestServer()
        try await withStub({ _ in .respond(Self.spent) }) { stub in
            let store = "rate_limit_store: { kind: redis, url: \"\(redis.url)\", timeout: 2s }"
            let yaml = Self.config(port: stub.port, shield: "{ key: header:Authorization }", top: store)
            let credentials = [("Authorization", "Bearer sk-live-shared-secret")]
            try await withGateway(yaml: yaml) { first in
                #expect(Envelope(try await first.request("GET", "/api/x", headers: credentials)).source == "upstream")
                try await withGateway(yaml: yaml) { second in
                    let shielded = try await second.request("GET", "/api/x", headers: credentials)
                    #expect(shielded.status == 429)
                    #expect(Envelope(shielded).source == "gateway")
                    #expect(shielded.header("x-ratelimit-remaining") == "0")
                }
            }
            #expect(stub.requests.count == 1)
        }
        // One key, named by the digest of the credential; nothing in Redis holds the credential itself.
        let key =
            "{gw}:qs:"
            + QuotaShield.storeKey(
                upstream: "sim", key: .header("Authorization"), headerValue: "Bearer sk-live-shared-secret")
        #expect(try await redis.command("EXISTS \(key)") == ":1")
        #expect(try await redis.command("EVAL \"return #redis.call('KEYS','*sk-live*')\" 0") == ":0")
        let pttl = try await redis.command("PTTL \(key)")
        // Expires by the vendor's reset (30 s after its 429): neither never nor later. No lower bound: how much of
        // the 30 s is left depends on how fast two gateways started on a loaded machine (it was 19.9 s once).
        #expect((1...30_000).contains(Int(pttl.dropFirst()) ?? 0), "expires at the vendor's reset: \(pttl)")
        redis.kill()
    }
}
