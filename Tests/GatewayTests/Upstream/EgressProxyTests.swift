import Foundation
import GatewayTestSupport
import Testing

/// `proxy` and `no_proxy` with a real forward proxy (tinyproxy) on loopback.
@Suite struct EgressProxyTests {
    static let ok = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nupstream".utf8)

    /// Runs `body` with a tinyproxy, then stops it.
    static func withProxy<T: Sendable>(
        basicAuth: (user: String, password: String)? = nil, _ body: (LoopbackDaemon) async throws -> T
    ) async throws -> T {
        try await ForwardProxy.start(basicAuth: basicAuth).run(body)
    }

    @Test func plainHTTPGoesThroughTheProxyWithCredentialsFromTheEnvironment() async throws {
        try await withStub({ _ in .respond(Self.ok) }) { stub in
            try await Self.withProxy(basicAuth: ("gw", "s3cret")) { proxy in
                let yaml = simpleConfig(
                    url: "http://127.0.0.1:\(stub.port)",
                    upstream: "    proxy: http://gw:${PROXY_PASSWORD}@127.0.0.1:\(proxy.port)\n")
                try await withGateway(yaml: yaml, environment: ["PROXY_PASSWORD": "s3cret"]) { gateway in
                    let response = try await gateway.request("GET", "/api/through")
                    #expect(response.status == 200)
                    #expect(response.bodyText == "upstream")
                }
                #expect(stub.requests.map(\.requestLine) == ["GET /through HTTP/1.1"])
                // Always a tunnel: the proxy never reads the request itself, and no credential reaches the upstream.
                #expect(proxy.read("tinyproxy.log").contains("CONNECT 127.0.0.1:\(stub.port)"))
                #expect(stub.requests.first?.header("Proxy-Authorization") == nil)
            }
        }
    }

    @Test func httpsToTheUpstreamIsTunnelledThroughConnect() async throws {
        let pki = try TestPKI.make()
        defer { pki.remove() }
        try await HTTP2Nginx.start(pki: pki).run { nginx in
            try await Self.withProxy { proxy in
                let yaml = simpleConfig(
                    url: "https://127.0.0.1:\(nginx.port)",
                    upstream: "    tls: { ca_file: \(pki.caCertificate) }\n    proxy: http://127.0.0.1:\(proxy.port)\n")
                try await withGateway(yaml: yaml) { gateway in
                    let response = try await gateway.request("GET", "/api/hello")
                    #expect(response.status == 200)
                    #expect(response.bodyText == "hello\n")
                }
                #expect(proxy.read("tinyproxy.log").contains("CONNECT 127.0.0.1:\(nginx.port)"))
                // TLS end to end through the tunnel, and HTTP/2 negotiated inside it.
                #expect(await eventually { HTTP2Nginx.accessLog(of: nginx).map(\.serverProtocol) == ["HTTP/2.0"] })
            }
        }
    }

    @Test func aProxyThatRefusesIsA502SayingSoNeverItsPage() async throws {
        try await withStub({ _ in .respond(Self.ok) }) { stub in
            try await Self.withProxy(basicAuth: ("gw", "s3cret")) { proxy in
                let yaml = simpleConfig(
                    url: "http://127.0.0.1:\(stub.port)", upstream: "    proxy: http://127.0.0.1:\(proxy.port)\n")
                try await withGateway(yaml: yaml) { gateway in
                    let response = try await gateway.request("GET", "/api/refused")
                    #expect(response.status == 502)
                    let envelope = Envelope(response)
                    #expect(envelope.code == "upstream_unavailable")
                    #expect(envelope.source == "gateway")
                    #expect(envelope.detail == "The egress proxy refused to connect the gateway to the upstream.")
                    #expect(response.header("gateway-attempts") == nil, "a refusal is not retried")
                    for marker in ["<", "407", "tinyproxy", "Proxy Authentication"] {
                        #expect(!response.bodyText.contains(marker), "\(marker) leaked: \(response.bodyText)")
                    }
                    let metrics = try await gateway.metrics()
                    #expect(
                        metrics.contains(
                            "gateway_upstream_requests_total{upstream=\"sim\",outcome=\"proxy_refused\"} 1"),
                        "\(metrics)")
                }
                #expect(stub.requests.isEmpty)
            }
        }
    }

    @Test func aProxyThatIsDownIsAConnectFailureRetriedAsSuch() async throws {
        let down = try RefusingPort()
        try await withStub({ _ in .respond(Self.ok) }) { stub in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(stub.port)",
                upstream: "    proxy: http://127.0.0.1:\(down.port)\n    retry: { backoff: { base: 1ms, max: 2ms } }\n")
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request("POST", "/api/down", body: Array("{}".utf8))
                #expect(response.status == 502)
                #expect(Envelope(response).code == "upstream_unavailable")
                // Even a POST is retried: the request never left.
                #expect(response.header("gateway-attempts") == "3")
                let metrics = try await gateway.metrics()
                #expect(
                    metrics.contains("gateway_upstream_requests_total{upstream=\"sim\",outcome=\"connect_failure\"} 3"),
                    "\(metrics)")
                #expect(
                    metrics.contains("gateway_retries_total{upstream=\"sim\",reason=\"connect_failure\"} 2"),
                    "\(metrics)")
            }
            #expect(stub.requests.isEmpty)
        }
    }

    @Test func socks5hCarriesRequestsAndItsRefusalsAreToldApart() async throws {
        let closed = try RefusingPort()
        try await withStub({ _ in .respond(Self.ok) }) { stub in
            try await SocksProxy.start(credentials: ("gw", "pw")).run { socks in
                let yaml = """
                    upstreams:
                      good: { url: "http://127.0.0.1:\(stub.port)", proxy: "socks5h://gw:pw@127.0.0.1:\(socks.port)" }
                      badcredentials: { url: "http://127.0.0.1:\(stub.port)", proxy: "socks5h://gw:nope@127.0.0.1:\(socks.port)" }
                      unreachable:
                        url: "http://127.0.0.1:\(closed.port)"
                        proxy: "socks5h://gw:pw@127.0.0.1:\(socks.port)"
                        retry: { backoff: { base: 1ms, max: 2ms } }
                    routes:
                      - { path_prefix: /good/, strip_prefix: true, upstream: good }
                      - { path_prefix: /bad/, strip_prefix: true, upstream: badcredentials }
                      - { path_prefix: /closed/, strip_prefix: true, upstream: unreachable }

                    """
                try await withGateway(yaml: yaml) { gateway in
                    let good = try await gateway.request("GET", "/good/x")
                    #expect(good.status == 200)
                    #expect(good.bodyText == "upstream")

                    let refused = try await gateway.request("GET", "/bad/x")
                    #expect(refused.status == 502)
                    #expect(
                        Envelope(refused).detail == "The egress proxy refused to connect the gateway to the upstream.")
                    #expect(refused.header("gateway-attempts") == nil)

                    let unreachable = try await gateway.request("GET", "/closed/x")
                    #expect(unreachable.status == 502)
                    #expect(unreachable.header("gateway-attempts") == "3", "the proxy could not connect: retried")
                    let metrics = try await gateway.metrics()
                    #expect(
                        metrics.contains(
                            #"gateway_upstream_requests_total{upstream="badcredentials",outcome="proxy_refused"} 1"#))
                    #expect(
                        metrics.contains(
                            #"gateway_upstream_requests_total{upstream="unreachable",outcome="connect_failure"} 3"#))
                }
                #expect(stub.requests.count == 1)
            }
        }
    }

    @Test func aHostInNoProxyIsReachedDirectly() async throws {
        let down = try RefusingPort()
        try await withStub({ _ in .respond(Self.ok) }) { stub in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(stub.port)",
                upstream: "    proxy: http://127.0.0.1:\(down.port)\n    no_proxy: [localhost, 127.0.0.1]\n")
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request("GET", "/api/direct")
                #expect(response.status == 200)
            }
            #expect(stub.requests.count == 1)
        }
    }
}
