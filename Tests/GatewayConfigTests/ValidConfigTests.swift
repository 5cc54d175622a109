import GatewayConfig
import GatewayCore
import HTTPTypes
import Testing

@Suite("Valid configurations")
struct ValidConfigTests {
    /// Every key of SPEC section 2, none at its default.
    static let fullConfig = """
        server:
          listen: '[::1]:8443'
          admin_listen: 127.0.0.1:0
          max_header_bytes: 32KiB
          max_header_count: 50
          max_body_bytes: 1MB
          idle_timeout: 1m30s
          request_header_timeout: 5s
          request_body_timeout: 45s
          min_request_body_rate: 2KiB/s
          drain_timeout: 0s
          trusted_proxies: [10.0.0.0/8, "::1/128", 192.168.1.7]
          access_log: false
          max_connections: 500
          tls:
            certificate: /etc/gateway/tls.crt
            private_key: ${TLS_KEY:-/etc/gateway/tls.key}
            handshake_timeout: 3s
        errors:
          type_base: https://errors.example.com/
          expose_upstream_messages: none
        rate_limit_store:
          kind: redis
          url: redis://gw:s%40cret@cache.internal:6380/2
          on_failure: deny
          timeout: 20ms
        rate_limits:
          per_client:
            rate: 100/1m
            burst: 20
            key: header:Authorization
          per_tenant:
            rate: 1000/h
            key: header:X-Tenant
          everyone:
            rate: 20/30s
            key: global
          per_route:
            rate: 5/s
            key: route
        upstreams:
          dokstamp:
            url: https://api.dokstamp.com:8443/api/
            dialect: dokstamp
            codes:
              ACCOUNT_LOCKED: permission_denied
              1001: quota_exceeded
            timeouts: { connect: 1s, per_try: 5s, request: 20s, idle: 2m }
            retry:
              attempts: 5
              backoff: { base: 50ms, max: 1s }
              retry_on: [connect_failure, 503]
              max_retry_after: 0s
              budget: { ratio: 0.5, min_per_second: 0 }
              idempotent_only: false
            circuit_breaker: { consecutive_failures: 3, open_for: 30s }
            max_in_flight: 64
            tls: { ca_file: /etc/ssl/ca.pem, client_certificate: /c.pem, client_key: /k.pem }
            headers:
              set: { X-Tenant: "${DOKSTAMP_TENANT}", X-Static: fixed }
              remove: [Cookie, X-Debug]
            preserve_host: true
            errors_in_success: true
          custom:
            url: http://10.1.2.3:9000
            dialect:
              code: /fault/code
              message: /fault/message
              errors: /fault/violations
              error_field: /name
              error_message: /reason
              error_code: /type
          plain:
            url: https://plain.example
            dialect: auto
            timeouts: { request: 10s }
        routes:
          - name: dokstamp
            path_prefix: /dokstamp/
            strip_prefix: true
            upstream: dokstamp
            rate_limits: [per_client, per_tenant]
            methods: [get, POST, Delete]
          - path_prefix: /custom/
            upstream: custom
            rate_limits: [everyone, per_route]
          - path_prefix: /
            upstream: plain

        """

    @Test("every key of a full file arrives with its exact value")
    func fullConfig() throws {
        let configuration = try parseValid(Self.fullConfig, environment: ["DOKSTAMP_TENANT": "acme"])

        let server = configuration.server
        #expect(server.listen == ListenAddress(host: "::1", port: 8443))
        #expect(server.adminListen == ListenAddress(host: "127.0.0.1", port: 0))
        #expect(server.maxHeaderBytes == 32 * 1024)
        #expect(server.maxHeaderCount == 50)
        #expect(server.maxBodyBytes == 1_000_000)
        #expect(server.idleTimeout == .seconds(90))
        #expect(server.requestHeaderTimeout == .seconds(5))
        #expect(server.requestBodyTimeout == .seconds(45))
        #expect(server.minRequestBodyBytesPerSecond == 2048)
        #expect(server.drainTimeout == .zero)
        #expect(server.trustedProxies.map(\.description) == ["10.0.0.0/8", "0:0:0:0:0:0:0:1/128", "192.168.1.7/32"])
        #expect(server.accessLog == false)
        #expect(server.maxConnections == 500)
        #expect(
            server.tls
                == ServerTLSConfiguration(
                    certificate: "/etc/gateway/tls.crt", privateKey: "/etc/gateway/tls.key",
                    handshakeTimeout: .seconds(3)))

        #expect(configuration.errors.typeBase == "https://errors.example.com/")
        #expect(configuration.errors.exposeUpstreamMessages == .none)

        #expect(
            configuration.rateLimitStore
                == .redis(
                    RedisStoreConfiguration(
                        host: "cache.internal", port: 6380, database: 2, username: "gw", password: "s@cret",
                        onFailure: .deny,
                        timeout: .milliseconds(20))))

        #expect(
            configuration.rateLimits == [
                RateLimitPolicy(
                    name: "per_client", rate: Rate(count: 100, period: .seconds(60)), burst: 20,
                    key: .header("Authorization")),
                RateLimitPolicy(
                    name: "per_tenant", rate: Rate(count: 1000, period: .seconds(3600)), key: .header("X-Tenant")),
                RateLimitPolicy(name: "everyone", rate: Rate(count: 20, period: .seconds(30)), key: .global),
                RateLimitPolicy(name: "per_route", rate: Rate(count: 5, period: .seconds(1)), key: .route),
            ])
        #expect(configuration.rateLimits[1].burst == 1000)

        let dokstamp = try #require(configuration.upstreams["dokstamp"])
        #expect(dokstamp.name == "dokstamp")
        #expect(dokstamp.url == UpstreamURL(scheme: .https, host: "api.dokstamp.com", port: 8443, basePath: "/api"))
        #expect(dokstamp.dialect == .builtin("dokstamp"))
        #expect(dokstamp.codes == ["ACCOUNT_LOCKED": .permissionDenied, "1001": .quotaExceeded])
        #expect(
            dokstamp.timeouts
                == UpstreamTimeouts(
                    connect: .seconds(1), perTry: .seconds(5), request: .seconds(20), idle: .seconds(120)))
        #expect(
            dokstamp.retry
                == RetryConfiguration(
                    attempts: 5, backoffBase: .milliseconds(50), backoffMax: .seconds(1),
                    retryOn: [.connectFailure, .status(503)], maxRetryAfter: .zero, budgetRatio: 0.5,
                    budgetMinPerSecond: 0,
                    idempotentOnly: false))
        #expect(dokstamp.circuitBreaker == CircuitBreakerConfiguration(consecutiveFailures: 3, openFor: .seconds(30)))
        #expect(dokstamp.maxInFlight == 64)
        #expect(
            dokstamp.tls
                == UpstreamTLSConfiguration(caFile: "/etc/ssl/ca.pem", clientCertificate: "/c.pem", clientKey: "/k.pem")
        )
        #expect(
            dokstamp.headers
                == HeaderRewrite(
                    set: [
                        HTTPField(name: HTTPField.Name("X-Tenant")!, value: "acme"),
                        HTTPField(name: HTTPField.Name("X-Static")!, value: "fixed"),
                    ],
                    remove: [.cookie, HTTPField.Name("X-Debug")!]))
        #expect(dokstamp.preserveHost == true)
        #expect(dokstamp.errorsInSuccess == true)

        let custom = try #require(configuration.upstreams["custom"])
        #expect(custom.url == UpstreamURL(scheme: .http, host: "10.1.2.3", port: 9000))
        #expect(
            custom.dialect
                == .mapping(
                    DialectMapping(
                        code: "/fault/code", message: "/fault/message", errors: "/fault/violations",
                        errorField: "/name",
                        errorMessage: "/reason", errorCode: "/type")))

        let plain = try #require(configuration.upstreams["plain"])
        #expect(plain.dialect == .auto)
        #expect(plain.timeouts.perTry == .seconds(10), "per_try defaults to request")
        #expect(configuration.upstreams.count == 3)

        #expect(configuration.routes.count == 3)
        let first = configuration.routes[0]
        #expect(first.name == "dokstamp")
        #expect(first.pathPrefix == "/dokstamp/")
        #expect(first.stripPrefix == true)
        #expect(first.upstream == "dokstamp")
        #expect(first.rateLimits == ["per_client", "per_tenant"])
        #expect(first.methods == [.get, .post, .delete])
        let second = configuration.routes[1]
        #expect(second.name == "/custom/", "name defaults to path_prefix")
        #expect(second.stripPrefix == false)
        #expect(second.methods == nil)
        #expect(configuration.routes[2].pathPrefix == "/")
    }

    @Test("everything but upstreams and routes takes the SPEC defaults")
    func defaults() throws {
        let configuration = try parseValid(minimalConfig)
        let server = configuration.server
        #expect(server.listen == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(server.adminListen == ListenAddress(host: "127.0.0.1", port: 9901))
        #expect(server.maxHeaderBytes == 16 * 1024)
        #expect(server.maxHeaderCount == 100)
        #expect(server.maxBodyBytes == 10 * 1024 * 1024)
        #expect(server.idleTimeout == .seconds(60))
        #expect(server.requestHeaderTimeout == .seconds(10))
        #expect(server.requestBodyTimeout == .seconds(30))
        #expect(server.minRequestBodyBytesPerSecond == 1024)
        #expect(server.drainTimeout == .seconds(30))
        #expect(server.trustedProxies.isEmpty)
        #expect(server.accessLog == true)
        #expect(server.maxConnections == 10_000)
        #expect(server.tls == nil)
        #expect(configuration.errors.typeBase == "https://errors.gateway.dev/")
        #expect(configuration.errors.exposeUpstreamMessages == .clientErrors)
        #expect(configuration.rateLimitStore == .memory)
        #expect(configuration.rateLimits.isEmpty)

        let upstream = try #require(configuration.upstreams["a"])
        #expect(upstream.url == UpstreamURL(scheme: .https, host: "a.example"))
        #expect(upstream.dialect == .auto)
        #expect(upstream.codes.isEmpty)
        #expect(
            upstream.timeouts
                == UpstreamTimeouts(
                    connect: .seconds(2), perTry: .seconds(30), request: .seconds(30), idle: .seconds(60)))
        #expect(
            upstream.retry
                == RetryConfiguration(
                    attempts: 3, backoffBase: .milliseconds(100), backoffMax: .seconds(2),
                    retryOn: [
                        .connectFailure, .timeout, .reset, .status(502), .status(503), .status(504), .status(429),
                    ],
                    maxRetryAfter: .seconds(10), budgetRatio: 0.2, budgetMinPerSecond: 10, idempotentOnly: true))
        #expect(upstream.circuitBreaker == nil)
        #expect(upstream.maxInFlight == 1000)
        #expect(upstream.tls == UpstreamTLSConfiguration())
        #expect(upstream.headers == HeaderRewrite())
        #expect(upstream.preserveHost == false)
        #expect(upstream.errorsInSuccess == false)

        let route = try #require(configuration.routes.first)
        #expect(route.name == "/a/")
        #expect(route.stripPrefix == false)
        #expect(route.rateLimits.isEmpty)
        #expect(route.methods == nil)
    }

    @Test("a policy's key defaults to client_ip and its burst to the rate's count")
    func policyDefaults() throws {
        let configuration = try parseValid("rate_limits:\n  p:\n    rate: 7/s\n" + minimalConfig)
        #expect(
            configuration.rateLimits == [
                RateLimitPolicy(name: "p", rate: Rate(count: 7, period: .seconds(1)), burst: 7, key: .clientIP)
            ])
    }

    @Test("redis store defaults: port 6379, database 0, on_failure allow, timeout 50ms")
    func redisDefaults() throws {
        let configuration = try parseValid(
            "rate_limit_store: { kind: redis, url: 'redis://:pw@[::1]' }\n" + minimalConfig)
        #expect(
            configuration.rateLimitStore
                == .redis(
                    RedisStoreConfiguration(
                        host: "::1", port: 6379, database: 0, username: nil, password: "pw", onFailure: .allow,
                        timeout: .milliseconds(50))))
    }

    @Test("empty sections read as their defaults")
    func emptySections() throws {
        let configuration = try parseValid("server:\nerrors: {}\nrate_limits:\n" + minimalConfig)
        #expect(configuration.server.listen.port == 8080)
        #expect(configuration.rateLimits.isEmpty)
    }

    @Test("the shipped config/gateway.yaml is valid with an empty environment")
    func shippedConfig() throws {
        let path = Self.repositoryRoot + "/config/gateway.yaml"
        let loader = ConfigLoader(
            environment: [:], knownDialects: ["dokstamp", "certifier", "docyard", "dokai", "stemp"])
        let configuration = try loader.load(path: path)
        #expect(configuration.upstreams.keys.sorted() == ["certifier", "docyard", "dokai", "dokstamp", "stemp"])
        for name in ["dokstamp", "certifier", "docyard", "dokai", "stemp"] {
            #expect(configuration.upstreams[name]?.dialect == .builtin(name))
        }
        #expect(configuration.upstreams["dokai"]?.url.basePath == "/v1")
        #expect(configuration.upstreams["certifier"]?.headers.set.first?.name == HTTPField.Name("Certifier-Version"))
        #expect(configuration.upstreams["dokstamp"]?.headers.set.first?.value == "demo")
        #expect(configuration.routes.map(\.name) == ["dokstamp", "certifier", "docyard", "dokai", "stemp"])
        #expect(configuration.rateLimitStore == .memory)
        #expect(configuration.rateLimits.count >= 2)
    }

    @Test("the shipped config takes secrets and the store from the environment")
    func shippedConfigWithEnvironment() throws {
        let path = Self.repositoryRoot + "/config/gateway.yaml"
        let loader = ConfigLoader(
            environment: ["RATE_LIMIT_STORE": "redis", "REDIS_URL": "redis://redis:6379/1", "DOKSTAMP_TENANT": "t1"],
            knownDialects: ["dokstamp", "certifier", "docyard", "dokai", "stemp"])
        let configuration = try loader.load(path: path)
        #expect(configuration.rateLimitStore == .redis(RedisStoreConfiguration(host: "redis", port: 6379, database: 1)))
        #expect(configuration.upstreams["dokstamp"]?.headers.set.first?.value == "t1")
    }

    static var repositoryRoot: String {
        var path = Substring(#filePath)
        for _ in 0..<3 {
            guard let slash = path.lastIndex(of: "/") else { break }
            path = path[..<slash]
        }
        return String(path)
    }
}
