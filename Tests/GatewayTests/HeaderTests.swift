import GatewayTestSupport
import Testing
import VendorSimulator

/// Header rules of SPEC section 5, seen from both ends: what reached the upstream (vendor-sim `echo=true` / its
/// recorded request) and what reached the client.
@Suite struct HeaderTests {
    static let echo = ("X-Sim-Echo", "true")

    @Test func hopByHopRequestHeadersAreNotForwarded() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                let response = try await gateway.request(
                    "GET", "/api/h",
                    headers: [
                        Self.echo, ("Connection", "keep-alive, X-Foo, x-request-id"), ("X-Foo", "secret"),
                        ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "keep-alive"), ("TE", "trailers"),
                        ("Trailer", "X-T"), ("Upgrade", "h2c"), ("Proxy-Authorization", "Basic eDp5"),
                        ("X-End-To-End", "kept"), ("X-Request-ID", "client-id-1"),
                    ])
                #expect(response.status == 200)
                let echo = Echo(response)
                for name in [
                    "Connection", "X-Foo", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade",
                    "Proxy-Authorization", "Transfer-Encoding",
                ] {
                    #expect(echo.header(name) == nil, "\(name) reached the upstream: \(echo.header(name) ?? "")")
                }
                #expect(echo.header("X-End-To-End") == "kept")
                // `Connection: x-request-id` cannot remove the gateway's own header.
                #expect(echo.headers("X-Request-ID") == ["client-id-1"])
                #expect(response.header("x-request-id") == "client-id-1")
            }
        }
    }

    @Test func forwardingHeadersAdded() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                let response = try await gateway.request(
                    "GET", "/api/f",
                    headers: [
                        Self.echo, ("Host", "public.example:8443"), ("X-Forwarded-For", "203.0.113.7"),
                        ("Via", "1.0 edge"), ("X-Forwarded-Proto", "spoofed"), ("X-Forwarded-Host", "spoofed"),
                    ])
                let echo = Echo(response)
                #expect(echo.headers("X-Forwarded-For") == ["203.0.113.7, 127.0.0.1"])
                #expect(echo.headers("X-Forwarded-Proto") == ["http"])
                #expect(echo.headers("X-Forwarded-Host") == ["public.example:8443"])
                let via = echo.headers("Via")
                #expect(via.count == 1)
                #expect(via.first?.hasPrefix("1.0 edge, 1.1 ") == true)
                // The upstream Host is the upstream's authority, not the client's.
                #expect(echo.headers("Host") == ["127.0.0.1:\(sim.port)"])

                let bare = Echo(try await gateway.request("GET", "/api/f", headers: [Self.echo]))
                #expect(bare.headers("X-Forwarded-For") == ["127.0.0.1"])
                #expect(bare.header("Via")?.hasPrefix("1.1 ") == true)
                // Pass-through responses carry Via too.
                #expect(response.header("via")?.contains("1.1 ") == true)
            }
        }
    }

    @Test func preserveHostSendsClientHost() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(url: "http://127.0.0.1:\(sim.port)", upstream: "    preserve_host: true")
            try await withGateway(yaml: yaml) { gateway in
                let echo = Echo(
                    try await gateway.request("GET", "/api/p", headers: [Self.echo, ("Host", "client.example")]))
                #expect(echo.headers("Host") == ["client.example"])
            }
        }
    }

    @Test func upstreamHeadersSetAndRemove() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)",
                upstream: """
                        headers:
                          set: { X-Tenant: "${TENANT}", X-Replace: new }
                          remove: [Cookie, X-Drop]
                    """)
            try await withGateway(yaml: yaml, environment: ["TENANT": "acme"]) { gateway in
                let echo = Echo(
                    try await gateway.request(
                        "GET", "/api/s",
                        headers: [
                            Self.echo, ("Cookie", "session=1"), ("X-Drop", "x"), ("X-Replace", "old"),
                            ("X-Keep", "k"),
                        ]))
                #expect(echo.headers("X-Tenant") == ["acme"])
                #expect(echo.headers("X-Replace") == ["new"])
                #expect(echo.header("Cookie") == nil)
                #expect(echo.header("X-Drop") == nil)
                #expect(echo.header("X-Keep") == "k")
            }
        }
    }

    @Test(arguments: [
        String(repeating: "a", count: 129), "has space", "semi;colon", "slash/", "", "é",
    ])
    func invalidRequestIDIsReplaced(incoming: String) async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                let response = try await gateway.request(
                    "GET", "/api/r", headers: [Self.echo, ("X-Request-ID", incoming)])
                let echo = Echo(response)
                let sent = echo.headers("X-Request-ID")
                #expect(sent.count == 1)
                #expect(sent.first != incoming)
                let generated = try #require(sent.first)
                #expect((1...128).contains(generated.count))
                #expect(generated.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._:-".contains($0)) })
                #expect(response.header("x-request-id") == generated)
            }
        }
    }

    @Test func validRequestIDKeptOnEveryKindOfResponse() async throws {
        try await withSimulator { sim in
            let refusing = try RefusingPort()
            let refused = refusing.port
            let yaml = """
                server:
                  max_body_bytes: 16
                upstreams:
                  sim:
                    url: http://127.0.0.1:\(sim.port)
                    retry: { attempts: 1 }
                  dead:
                    url: http://127.0.0.1:\(refused)
                    retry: { attempts: 1 }
                routes:
                  - path_prefix: /api/
                    strip_prefix: true
                    upstream: sim
                  - path_prefix: /dead/
                    upstream: dead
                """
            try await withGateway(yaml: yaml) { gateway in
                let id = String(repeating: "Z", count: 100) + "abc.XYZ:0-9_"
                #expect(id.count <= 128)
                let header = ("X-Request-ID", id)
                // Success, and what the upstream saw.
                let ok = try await gateway.request("GET", "/api/dokstamp/certificates", headers: [header])
                #expect(ok.status == 200)
                #expect(ok.headers("x-request-id") == [id])
                #expect(sim.lastRequest()?.header("X-Request-ID") == id)
                // An upstream error, rewritten.
                let upstreamError = try await gateway.request(
                    "GET", "/api/dokstamp/certificates?error=not_found", headers: [header])
                #expect(upstreamError.status == 404)
                #expect(upstreamError.headers("x-request-id") == [id])
                #expect(Envelope(upstreamError).requestID == id)
                // A gateway error (no route; upstream unreachable).
                let noRoute = try await gateway.request("GET", "/none", headers: [header])
                #expect(noRoute.headers("x-request-id") == [id])
                #expect(Envelope(noRoute).requestID == id)
                let dead = try await gateway.request("GET", "/dead/x", headers: [header])
                #expect(dead.status == 502)
                #expect(dead.headers("x-request-id") == [id])
                // A refusal by the listener (body too large).
                let refusal = try await gateway.request(
                    "POST", "/api/x", headers: [header], body: Array(repeating: 0x41, count: 64))
                #expect(refusal.status == 413)
                #expect(refusal.headers("x-request-id") == [id])
                #expect(Envelope(refusal).requestID == id)
            }
            withExtendedLifetime(refusing) {}
        }
    }

    @Test func hopByHopResponseHeadersAreNotForwarded() async throws {
        let response = """
            HTTP/1.1 200 OK\r
            Content-Type: text/plain\r
            Connection: X-Up-Hop, keep-alive\r
            X-Up-Hop: internal\r
            Keep-Alive: timeout=5\r
            Proxy-Authenticate: Basic realm="x"\r
            Proxy-Connection: keep-alive\r
            Trailer: X-T\r
            X-Request-ID: upstream-made-this\r
            X-Up-Kept: yes\r
            Content-Length: 2\r
            \r
            ok
            """
        try await withStub({ _ in .respond(Array(response.utf8)) }) { stub in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(stub.port)")) { gateway in
                let reply = try await gateway.request("GET", "/api/x", headers: [("X-Request-ID", "mine")])
                #expect(reply.status == 200)
                #expect(reply.bodyText == "ok")
                #expect(reply.header("x-up-kept") == "yes")
                for name in ["X-Up-Hop", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection", "Trailer"] {
                    #expect(reply.header(name) == nil, "\(name) reached the client")
                }
                #expect(reply.header("connection").map { $0.lowercased().contains("x-up-hop") } != true)
                #expect(reply.headers("x-request-id") == ["mine"])
            }
        }
    }
}
