import GatewayTestSupport
import Testing
import VendorSimulator

/// Upstream failures become the gateway's envelope with the exact status and code (SPEC sections 3 and 5).
@Suite struct FailureTests {
    /// One try, short timeouts: each failure is seen once and quickly.
    static func config(port: Int, timeouts: String = "{ connect: 1s, per_try: 2s, request: 3s }") -> String {
        simpleConfig(
            url: "http://127.0.0.1:\(port)",
            upstream: """
                    timeouts: \(timeouts)
                    retry: { attempts: 1 }
                """)
    }

    static func expectGatewayEnvelope(
        _ response: RawHTTPClient.Response, status: Int, code: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.status == status, "\(response)", sourceLocation: sourceLocation)
        let envelope = Envelope(response)
        #expect(envelope.code == code, sourceLocation: sourceLocation)
        #expect(envelope.status == status, sourceLocation: sourceLocation)
        #expect(envelope.source == "gateway", sourceLocation: sourceLocation)
        #expect(envelope.upstreamName == "sim", sourceLocation: sourceLocation)
        #expect(envelope.upstreamStatusIsNull, "upstream.status should be null", sourceLocation: sourceLocation)
        #expect(envelope.upstreamCodeIsNull, "upstream.code should be null", sourceLocation: sourceLocation)
        #expect(envelope.retryable == true, sourceLocation: sourceLocation)
        #expect(response.header("x-request-id") == envelope.requestID, sourceLocation: sourceLocation)
        #expect(response.header("content-type") == "application/problem+json", sourceLocation: sourceLocation)
    }

    @Test func connectionRefusedIs502UpstreamUnavailable() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        try await withGateway(yaml: Self.config(port: port)) { gateway in
            let response = try await gateway.request("GET", "/api/x")
            Self.expectGatewayEnvelope(response, status: 502, code: "upstream_unavailable")
        }
        withExtendedLifetime(refusing) {}
    }

    @Test(arguments: ["reset", "close", "garbage"])
    func brokenConnectionBeforeHeadIs502(mode: String) async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request("GET", "/api/dokstamp/certificates?fail_mode=\(mode)")
                Self.expectGatewayEnvelope(response, status: 502, code: "upstream_unavailable")
                #expect(sim.requestCount() == 1)
            }
        }
    }

    @Test func hangingUpstreamIs504UpstreamTimeout() async throws {
        try await withSimulator { sim in
            let yaml = Self.config(port: sim.port, timeouts: "{ connect: 1s, per_try: 300ms, request: 600ms }")
            try await withGateway(yaml: yaml) { gateway in
                let start = ContinuousClock.now
                let response = try await gateway.request("GET", "/api/dokstamp/certificates?hang=true")
                Self.expectGatewayEnvelope(response, status: 504, code: "upstream_timeout")
                // Generous: the upstream hangs forever, so without the 600 ms request timeout no answer would come.
                #expect(ContinuousClock.now - start < .seconds(8))
            }
        }
    }

    @Test(arguments: [
        "double_content_length", "status_999", "bare_cr_header", "obs_fold", "space_before_colon", "unrequested_101",
    ])
    func malformedUpstreamHeadIs502AndTheGatewayStaysUp(mode: String) async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request("GET", "/api/dokstamp/certificates?malformed=\(mode)")
                Self.expectGatewayEnvelope(response, status: 502, code: "upstream_unavailable")
                #expect(response.header("injected") == nil)
                #expect(response.header("x-folded") == nil)
                // Still serving.
                let next = try await gateway.request("GET", "/api/dokstamp/certificates")
                #expect(next.status == 200)
                #expect(try await gateway.admin("GET", "/healthz").status == 200)
            }
        }
    }

    @Test func earlyHintsThenFinal200() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                try await withClient(port: gateway.proxyPort) { client in
                    try await client.send(RunningGateway.requestBytes("GET", "/api/x?malformed=early_hints"))
                    var response = try await client.readResponse()
                    // The gateway may relay the 103 or drop it; the final response must be the 200.
                    if response.status == 103 { response = try await client.readResponse() }
                    #expect(response.status == 200)
                    #expect(response.bodyText == #"{"ok":true}"#)
                    #expect(response.header("link") == nil, "the 103's Link header leaked into the final response")
                    #expect(response.header("content-type") == "application/json")
                }
            }
        }
    }

    @Test func thousandsOfUpstreamHeadersAre502() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request("GET", "/api/dokstamp/certificates?malformed=many_headers")
                Self.expectGatewayEnvelope(response, status: 502, code: "upstream_unavailable")
                #expect(try await gateway.request("GET", "/api/dokstamp/certificates").status == 200)
            }
        }
    }

    @Test(arguments: ["a\u{01}b", "a\u{7F}b", "a\u{00}b"])
    func controlCharacterInAnUpstreamHeaderIs502NotASilentClose(value: String) async throws {
        let raw = Array("HTTP/1.1 200 OK\r\nX-Ctl: \(value)\r\nContent-Length: 2\r\n\r\nok".utf8)
        try await withStub({ _ in .respondAndClose(raw) }) { stub in
            try await withGateway(yaml: Self.config(port: stub.port)) { gateway in
                let response = try await gateway.request("GET", "/api/ctl")
                Self.expectGatewayEnvelope(response, status: 502, code: "upstream_unavailable")
            }
        }
    }

    @Test func upstreamWithBothContentLengthAndChunkedIsForwardedChunkedWithoutTheLength() async throws {
        let raw = Array(
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8)
        try await withStub({ _ in .respond(raw) }) { stub in
            try await withGateway(yaml: Self.config(port: stub.port)) { gateway in
                try await withClient(port: gateway.proxyPort) { client in
                    try await client.send(RunningGateway.requestBytes("GET", "/api/both"))
                    let response: RawHTTPClient.Response
                    do {
                        response = try await client.readResponse(timeout: .seconds(10))
                    } catch {
                        Issue.record(
                            "no complete response (\(error)); received: \(String(decoding: client.unreadBytes, as: UTF8.self).debugDescription)"
                        )
                        return
                    }
                    // RFC 9112 section 6.3 lets a proxy refuse it or forward it; this gateway forwards the chunked
                    // body without the Content-Length (README, "Changelog (SPEC extensions)"): the one outcome.
                    #expect(response.status == 200)
                    #expect(response.bodyText == "hello")
                    #expect(response.header("content-length") == nil)
                    #expect(response.header("transfer-encoding")?.lowercased() == "chunked")
                    // The connection is still in step: the next response parses, and is the same.
                    try await client.send(RunningGateway.requestBytes("GET", "/api/both"))
                    let next = try await client.readResponse(timeout: .seconds(10))
                    #expect(next.status == 200)
                    #expect(next.bodyText == "hello")
                }
            }
        }
    }
}
