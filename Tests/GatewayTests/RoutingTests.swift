import GatewayTestSupport
import Testing
import VendorSimulator

/// Routing (SPEC section 5): first `path_prefix` match, `strip_prefix`, the upstream base path, byte-exact queries,
/// `methods` → 405 with `Allow`, no route → 404 from the gateway.
@Suite struct RoutingTests {
    static func config(port: Int) -> String {
        """
        upstreams:
          based:
            url: http://127.0.0.1:\(port)/basepath
          plain:
            url: http://127.0.0.1:\(port)
        routes:
          - name: special
            path_prefix: /s/special/
            strip_prefix: true
            upstream: plain
          - name: s
            path_prefix: /s/
            strip_prefix: true
            upstream: based
          - name: keep
            path_prefix: /keep/
            upstream: plain
          - name: readonly
            path_prefix: /ro/
            strip_prefix: true
            upstream: plain
            methods: [GET, HEAD]
        """
    }

    static let echo = [("X-Sim-Echo", "true")]

    @Test func firstMatchStripPrefixAndBasePath() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let special = try await gateway.request("GET", "/s/special/x/y", headers: Self.echo)
                #expect(special.status == 200)
                #expect(Echo(special).target == "/x/y")

                // `/s/special/x` matches both `/s/special/` and `/s/`: the first one listed serves it.
                #expect(sim.lastRequest()?.target == "/x/y")

                // A plain prefix: `/s/special/` does not match `/s/specialx`.
                let other = try await gateway.request("GET", "/s/specialx", headers: Self.echo)
                #expect(Echo(other).target == "/basepath/specialx")

                let kept = try await gateway.request("GET", "/keep/a/b", headers: Self.echo)
                #expect(Echo(kept).target == "/keep/a/b")

                // Stripping the whole path leaves `/`, joined to the base path.
                let root = try await gateway.request("GET", "/s/", headers: Self.echo)
                #expect(Echo(root).target == "/basepath/")
            }
        }
    }

    @Test func prefixWithoutTrailingSlashDoesNotMatch() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request("GET", "/s", headers: Self.echo)
                #expect(response.status == 404)
                #expect(Envelope(response).code == "not_found")
                #expect(sim.requestCount() == 0)
            }
        }
    }

    @Test(arguments: [
        "a=%2F&b=+x+&c=&d&e=%41%42",
        "x=1&x=2&empty=&&trailing=",
        "q=%2f%2F%25&plus=a+b%2Bc&semi=a;b&slash=/path/?&eq=a=b",
        "%7Eu=%7e&utf=%C3%A9&star=*&comma=a,b&bang=!$'()",
    ])
    func queryForwardedByteForByte(query: String) async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request("GET", "/s/q?\(query)", headers: Self.echo)
                #expect(response.status == 200)
                #expect(Echo(response).target == "/basepath/q?\(query)")
                #expect(sim.lastRequest()?.target == "/basepath/q?\(query)")
            }
        }
    }

    @Test func methodNotAllowedEnvelopeWithAllow() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request("POST", "/ro/x?y=1", body: Array("{}".utf8))
                #expect(response.status == 405)
                #expect(response.header("allow") == "GET, HEAD")
                #expect(response.header("content-type") == "application/problem+json")
                let envelope = Envelope(response)
                #expect(envelope.code == "method_not_allowed")
                #expect(envelope.status == 405)
                #expect(envelope.source == "gateway")
                #expect(envelope.instance == "/ro/x")
                #expect(envelope.upstream == nil)
                #expect(envelope.requestID == response.header("x-request-id"))
                #expect(sim.requestCount() == 0)

                let allowed = try await gateway.request("GET", "/ro/x", headers: Self.echo)
                #expect(allowed.status == 200)
            }
        }
    }

    @Test func noRouteIsGatewayNotFound() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let response = try await gateway.request("GET", "/nowhere/at/all?x=1")
                #expect(response.status == 404)
                let envelope = Envelope(response)
                #expect(envelope.code == "not_found")
                #expect(envelope.source == "gateway")
                #expect(envelope.status == 404)
                #expect(envelope.instance == "/nowhere/at/all")
                #expect(envelope.type == "https://errors.gateway.dev/not_found")
                #expect(envelope.retryable == false)
                #expect(envelope.upstream == nil)
                #expect(response.header("x-request-id") == envelope.requestID)
                #expect(response.header("date") != nil)
                #expect(Int(response.header("content-length") ?? "") == response.body.count)
                #expect(sim.requestCount() == 0)
            }
        }
    }
}
