import GatewayConfig
import GatewayCore
import Testing

/// Issue 13's upstream keys and `server.tracing`: read into typed values, and every bad value reported at its line.
@Suite struct EgressConfigTests {
    static func upstream(_ lines: String) -> String {
        minimalConfig.replacingFirst("url: https://a.example", with: "url: https://a.example\n" + lines)
    }

    @Test func theNewKeysAreRead() throws {
        let yaml = Self.upstream(
            """
                http_version: "2"
                max_connections: 8
                proxy: http://gw:${PROXY_PASSWORD}@egress.internal:3128
                no_proxy: [localhost, .svc.cluster.local, 10.0.0.0/8]
                quota_shield: { key: header:Authorization, max_wait: 10m }
            """)
        let configuration = try parseValid(yaml, environment: ["PROXY_PASSWORD": "s3cret"])
        let upstream = try #require(configuration.upstreams["a"])
        #expect(upstream.httpVersion == .http2)
        #expect(upstream.maxConnections == 8)
        let proxy = try #require(upstream.proxy)
        #expect(proxy.url == "http://gw:s3cret@egress.internal:3128")
        #expect(proxy.scheme == .http)
        #expect(proxy.host == "egress.internal")
        #expect(proxy.port == 3128)
        #expect(proxy.hasCredentials)
        #expect("\(proxy)" == "http://egress.internal:3128", "the description never shows credentials")
        #expect(upstream.noProxy == ["localhost", ".svc.cluster.local", "10.0.0.0/8"])
        #expect(upstream.quotaShield == QuotaShieldConfiguration(key: .header("Authorization"), maxWait: .seconds(600)))
    }

    @Test func defaultsAndOtherForms() throws {
        let plain = try #require(try parseValid(minimalConfig).upstreams["a"])
        #expect(plain.httpVersion == .auto)
        #expect(plain.maxConnections == nil)
        #expect(plain.proxy == nil)
        #expect(plain.quotaShield == nil)
        for (text, version) in [
            ("auto", UpstreamHTTPVersion.auto), ("1.1", .http1_1), ("\"1.1\"", .http1_1), ("2", .http2),
        ] {
            let upstream = try #require(try parseValid(Self.upstream("    http_version: \(text)\n")).upstreams["a"])
            #expect(upstream.httpVersion == version, "\(text)")
        }
        let shield = try #require(try parseValid(Self.upstream("    quota_shield: {}\n")).upstreams["a"])
        #expect(shield.quotaShield == QuotaShieldConfiguration(key: .global, maxWait: .seconds(3600)))
        let socks = try #require(try parseValid(Self.upstream("    proxy: socks5h://127.0.0.1\n")).upstreams["a"])
        #expect(socks.proxy?.port == 1080)
        #expect(socks.proxy?.scheme == .socks5h)
        let tracing = try parseValid(
            "server:\n  tracing: { otlp_endpoint: http://127.0.0.1:4318, sample_ratio: 0.25 }\n" + minimalConfig)
        #expect(
            tracing.server.tracing == TracingConfiguration(otlpEndpoint: "http://127.0.0.1:4318", sampleRatio: 0.25))
    }

    static let cases: [InvalidCase] = [
        InvalidCase(
            name: "http_version not one of the three",
            yaml: upstream("    http_version: 3\n"),
            expected: ["4:19: upstreams.a.http_version: expected auto, \"1.1\" or \"2\"; got '3'"]),
        InvalidCase(
            name: "max_connections zero",
            yaml: upstream("    max_connections: 0\n"),
            expected: ["4:22: upstreams.a.max_connections: expected an integer >= 1; got '0'"]),
        InvalidCase(
            name: "proxy with an unsupported scheme",
            yaml: upstream("    proxy: ftp://proxy:21\n"),
            expected: [
                "4:12: upstreams.a.proxy: expected a proxy URL like http://[user:password@]host:port (http, https or socks5h); got 'ftp://proxy:21'"
            ]),
        InvalidCase(
            name: "proxy with a path",
            yaml: upstream("    proxy: http://proxy:3128/x\n"),
            expected: [
                "4:12: upstreams.a.proxy: expected a proxy URL like http://[user:password@]host:port (http, https or socks5h); got 'http://proxy:3128/x'"
            ]),
        InvalidCase(
            name: "proxy from an unset variable",
            yaml: upstream("    proxy: http://u:${NOPE}@proxy:3128\n"),
            expected: [
                "4:12: upstreams.a.proxy: environment variable 'NOPE' is not set (write ${NOPE:-default} for a default)"
            ]),
        InvalidCase(
            name: "no_proxy entry with a space",
            yaml: upstream("    proxy: http://proxy:3128\n    no_proxy: [\"a b\"]\n"),
            expected: [
                "5:16: upstreams.a.no_proxy[0]: expected a host name, .domain suffix, IP address or *; got 'a b'"
            ]),
        InvalidCase(
            name: "no_proxy without proxy",
            yaml: upstream("    no_proxy: [localhost]\n"),
            expected: ["4:5: upstreams.a.no_proxy: no_proxy needs proxy"]),
        InvalidCase(
            name: "quota_shield key of another kind",
            yaml: upstream("    quota_shield: { key: client_ip }\n"),
            expected: ["4:26: upstreams.a.quota_shield.key: expected global or header:NAME; got 'client_ip'"]),
        InvalidCase(
            name: "quota_shield unknown key",
            yaml: upstream("    quota_shield: { max_wiat: 1h }\n"),
            expected: ["4:21: unknown key 'max_wiat' in upstreams.a.quota_shield (did you mean 'max_wait'?)"]),
        InvalidCase(
            name: "quota_shield zero max_wait",
            yaml: upstream("    quota_shield: { max_wait: 0s }\n"),
            expected: ["4:31: upstreams.a.quota_shield.max_wait: expected a duration longer than 0"]),
        InvalidCase(
            name: "tracing endpoint that is not a URL",
            yaml: "server:\n  tracing: { otlp_endpoint: collector }\n" + minimalConfig,
            expected: [
                "2:29: server.tracing.otlp_endpoint: expected an OTLP/HTTP endpoint like http://127.0.0.1:4318; got 'collector'"
            ]),
        InvalidCase(
            name: "tracing sample ratio above 1",
            yaml: "server:\n  tracing: { sample_ratio: 2 }\n" + minimalConfig,
            expected: ["2:28: server.tracing.sample_ratio: expected a number from 0.0 to 1.0; got '2'"]),
    ]

    @Test(arguments: Self.cases)
    func everyProblemHasItsLine(_ invalid: InvalidCase) {
        #expect(problemLines(invalid.yaml, environment: invalid.environment) == invalid.expected.map { $0 })
    }
}
