import GatewayConfig
import Testing

/// One invalid file and the exact problems it must produce.
struct InvalidCase: CustomTestStringConvertible, Sendable {
    var name: String
    var yaml: String
    var expected: [String]
    var environment: [String: String] = [:]

    var testDescription: String { self.name }
}

/// Each case changes one thing of an otherwise valid file; `minimalConfig` is six lines.
let invalidCases: [InvalidCase] = [
    InvalidCase(
        name: "unknown top-level key",
        yaml: "foo: 1\n" + minimalConfig,
        expected: ["1:1: unknown key 'foo' at the top level"]),
    InvalidCase(
        name: "unknown upstream key with a suggestion",
        yaml: minimalConfig.replacingFirst("url: https://a.example", with: "url: https://a.example\n    timeout: 3s"),
        expected: ["4:5: unknown key 'timeout' in upstreams.a (did you mean 'timeouts'?)"]),
    InvalidCase(
        name: "unknown key far from any known one",
        yaml: minimalConfig + "    colour: blue\n",
        expected: ["7:5: unknown key 'colour' in routes[0]"]),
    InvalidCase(
        name: "section that is not a mapping",
        yaml: "server: 8080\n" + minimalConfig,
        expected: ["1:9: server: expected a mapping; got '8080'"]),
    InvalidCase(
        name: "listen without a port",
        yaml: "server:\n  listen: localhost\n" + minimalConfig,
        expected: ["2:11: server.listen: expected host:port like 0.0.0.0:8080 or [::1]:8080; got 'localhost'"]),
    InvalidCase(
        name: "listen port out of range",
        yaml: "server:\n  admin_listen: '[::1]:70000'\n" + minimalConfig,
        expected: ["2:17: server.admin_listen: expected host:port like 0.0.0.0:8080 or [::1]:8080; got '[::1]:70000'"]),
    InvalidCase(
        name: "duration that is not one",
        yaml: "server:\n  idle_timeout: abc\n" + minimalConfig,
        expected: ["2:17: server.idle_timeout: expected a duration like 250ms, 2s, 1m; got 'abc'"]),
    InvalidCase(
        name: "negative duration",
        yaml: "server:\n  drain_timeout: -5s\n" + minimalConfig,
        expected: ["2:18: server.drain_timeout: expected a duration like 250ms, 2s, 1m; got '-5s'"]),
    InvalidCase(
        name: "zero duration where a positive one is needed",
        yaml: "server:\n  request_header_timeout: 0s\n" + minimalConfig,
        expected: ["2:27: server.request_header_timeout: expected a duration longer than 0"]),
    InvalidCase(
        name: "zero request body timeout",
        yaml: "server:\n  request_body_timeout: 0s\n" + minimalConfig,
        expected: ["2:25: server.request_body_timeout: expected a duration longer than 0"]),
    InvalidCase(
        name: "body rate that is not a data rate",
        yaml: "server:\n  min_request_body_rate: fast\n" + minimalConfig,
        expected: [
            "2:26: server.min_request_body_rate: expected a data rate like 1KiB/s, 512/s or 10MiB/1m; got 'fast'"
        ]),
    InvalidCase(
        name: "body rate of zero bytes",
        yaml: "server:\n  min_request_body_rate: 0/s\n" + minimalConfig,
        expected: [
            "2:26: server.min_request_body_rate: expected a data rate like 1KiB/s, 512/s or 10MiB/1m; got '0/s'"
        ]),
    InvalidCase(
        name: "TLS handshake timeout that is not a duration",
        yaml: "server:\n  tls: { certificate: /a, private_key: /b, handshake_timeout: soon }\n" + minimalConfig,
        expected: ["2:63: server.tls.handshake_timeout: expected a duration like 250ms, 2s, 1m; got 'soon'"]),
    InvalidCase(
        name: "size with a space",
        yaml: "server:\n  max_body_bytes: 10 MiB\n" + minimalConfig,
        expected: ["2:19: server.max_body_bytes: expected a size like 512, 16KiB, 10MiB; got '10 MiB'"]),
    InvalidCase(
        name: "CIDR with too long a prefix",
        yaml: "server:\n  trusted_proxies: [10.0.0.0/8, 10.0.0.0/33]\n" + minimalConfig,
        expected: [
            "2:33: server.trusted_proxies[1]: expected a CIDR block like 10.0.0.0/8 or ::1/128; got '10.0.0.0/33'"
        ]),
    InvalidCase(
        name: "boolean written as yes",
        yaml: "server:\n  access_log: yes\n" + minimalConfig,
        expected: ["2:15: server.access_log: expected true or false; got 'yes'"]),
    InvalidCase(
        name: "server TLS without its key",
        yaml: "server:\n  tls:\n    certificate: /etc/cert.pem\n" + minimalConfig,
        expected: ["2:3: server.tls: missing required key 'private_key'"]),
    InvalidCase(
        name: "unknown choice",
        yaml: "errors:\n  expose_upstream_messages: some\n" + minimalConfig,
        expected: ["2:29: errors.expose_upstream_messages: expected one of all, client_errors, none; got 'some'"]),
    InvalidCase(
        name: "redis store without a url",
        yaml: "rate_limit_store:\n  kind: redis\n" + minimalConfig,
        expected: ["1:1: rate_limit_store: kind redis needs a url like redis://127.0.0.1:6379/0"]),
    InvalidCase(
        name: "redis url with another scheme",
        yaml: "rate_limit_store:\n  kind: redis\n  url: http://cache:6379\n" + minimalConfig,
        expected: [
            "3:8: rate_limit_store.url: expected a URL like redis://[user:password@]host:port/db; got 'http://cache:6379'"
        ]),
    InvalidCase(
        name: "rate with an unknown period",
        yaml: "rate_limits:\n  p:\n    rate: 100/week\n" + minimalConfig,
        expected: ["3:11: rate_limits.p.rate: expected a rate like 100/s, 100/1m, 20/30s; got '100/week'"]),
    InvalidCase(
        name: "policy without a rate, and burst zero",
        yaml: "rate_limits:\n  p:\n    burst: 0\n" + minimalConfig,
        expected: [
            "2:3: rate_limits.p: missing required key 'rate'",
            "3:12: rate_limits.p.burst: expected an integer >= 1; got '0'",
        ]),
    InvalidCase(
        name: "rate limit key of an unknown kind",
        yaml: "rate_limits:\n  p:\n    rate: 10/s\n    key: cookie\n" + minimalConfig,
        expected: ["4:10: rate_limits.p.key: expected client_ip, header:NAME, route or global; got 'cookie'"]),
    InvalidCase(
        name: "upstream url with an unsupported scheme",
        yaml: minimalConfig.replacingFirst("https://a.example", with: "ftp://a.example"),
        expected: [
            "3:10: upstreams.a.url: expected a URL like https://api.example.com[:port][/base/path]; got 'ftp://a.example'"
        ]),
    InvalidCase(
        name: "upstream without a url",
        yaml: minimalConfig.replacingFirst("url: https://a.example", with: "max_in_flight: 5"),
        expected: ["2:3: upstreams.a: missing required key 'url'"]),
    InvalidCase(
        name: "unknown dialect name",
        yaml: minimalConfig.replacingFirst("url: https://a.example", with: "url: https://a.example\n    dialect: soap"),
        expected: [
            "4:14: upstreams.a.dialect: unknown dialect 'soap'; expected auto, a mapping, or one of certifier, docyard, "
                + "dokai, dokstamp, laravel, problem_json, stemp"
        ]),
    InvalidCase(
        name: "dialect mapping with a pointer that does not start with a slash",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example", with: "url: https://a.example\n    dialect:\n      code: fault.code"),
        expected: ["5:13: upstreams.a.dialect.code: expected a JSON Pointer like /error/code; got 'fault.code'"]),
    InvalidCase(
        name: "dialect mapping with error_field but no errors",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example",
            with: "url: https://a.example\n    dialect:\n      message: /m\n      error_field: /name"),
        expected: ["6:7: upstreams.a.dialect.error_field: error_field needs errors (the pointer to the array of items)"]
    ),
    InvalidCase(
        name: "codes naming an unknown canonical code",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example", with: "url: https://a.example\n    codes:\n      LOCKED: locked_out"),
        expected: [
            "5:15: upstreams.a.codes.LOCKED: expected a canonical error code (bad_request, validation_failed, "
                + "unauthenticated, payment_required, permission_denied, not_found, method_not_allowed, "
                + "request_timeout, conflict, gone, precondition_failed, payload_too_large, unsupported_media_type, "
                + "header_too_large, rate_limited, quota_exceeded, upstream_error, upstream_unavailable, "
                + "upstream_timeout, service_unavailable, internal_error); got 'locked_out'"
        ]),
    InvalidCase(
        name: "per_try longer than request",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example", with: "url: https://a.example\n    timeouts: { per_try: 40s, request: 30s }"),
        expected: ["4:26: upstreams.a.timeouts.per_try: per_try (40s) is longer than request (30s)"]),
    InvalidCase(
        name: "per_try longer than the default request",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example", with: "url: https://a.example\n    timeouts:\n      per_try: 1m"),
        expected: ["5:16: upstreams.a.timeouts.per_try: per_try (60s) is longer than request (30s)"]),
    InvalidCase(
        name: "backoff base longer than max",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example", with: "url: https://a.example\n    retry:\n      backoff: { base: 5s, max: 1s }"),
        expected: ["5:24: upstreams.a.retry.backoff.base: backoff base (5s) is longer than max (1s)"]),
    InvalidCase(
        name: "zero attempts and a bad retry condition",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example",
            with: "url: https://a.example\n    retry:\n      attempts: 0\n      retry_on: [timeout, 600, sometimes]"),
        expected: [
            "5:17: upstreams.a.retry.attempts: expected an integer >= 1; got '0'",
            "6:27: upstreams.a.retry.retry_on[1]: expected connect_failure, timeout, reset or a status from 100 to 599; got '600'",
            "6:32: upstreams.a.retry.retry_on[2]: expected connect_failure, timeout, reset or a status from 100 to 599; got 'sometimes'",
        ]),
    InvalidCase(
        name: "budget ratio above one",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example", with: "url: https://a.example\n    retry:\n      budget: { ratio: 1.5 }"),
        expected: ["5:24: upstreams.a.retry.budget.ratio: expected a number from 0.0 to 1.0; got '1.5'"]),
    InvalidCase(
        name: "circuit breaker with zero failures",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example",
            with: "url: https://a.example\n    circuit_breaker: { consecutive_failures: 0 }"),
        expected: ["4:46: upstreams.a.circuit_breaker.consecutive_failures: expected an integer >= 1; got '0'"]),
    InvalidCase(
        name: "client certificate without its key",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example", with: "url: https://a.example\n    tls:\n      client_certificate: /c.pem"),
        expected: ["5:7: upstreams.a.tls.client_certificate: client_certificate needs client_key"]),
    InvalidCase(
        name: "header names that are not tokens, and a header the gateway owns",
        yaml: minimalConfig.replacingFirst(
            "url: https://a.example",
            with:
                "url: https://a.example\n    headers:\n      set: { \"Bad Header\": x, Host: y }\n      remove: [Content-Length]"
        ),
        expected: [
            "5:14: upstreams.a.headers.set.Bad Header: 'Bad Header' is not a valid header name",
            "5:31: upstreams.a.headers.set.Host: header 'Host' is managed by the gateway and cannot be set",
            "6:16: upstreams.a.headers.remove[0]: header 'Content-Length' is managed by the gateway and cannot be removed",
        ]),
    InvalidCase(
        name: "path prefix without a leading slash",
        yaml: minimalConfig.replacingFirst("path_prefix: /a/", with: "path_prefix: a/"),
        expected: ["5:18: routes[0].path_prefix: expected a path prefix starting with '/'; got 'a/'"]),
    InvalidCase(
        name: "route to an unknown upstream",
        yaml: minimalConfig.replacingFirst("upstream: a", with: "upstream: b"),
        expected: ["6:15: routes[0].upstream: unknown upstream 'b' (known: a)"]),
    InvalidCase(
        name: "route with an unknown policy and a bad method",
        yaml: minimalConfig + "    rate_limits: [nope]\n    methods: [get, 'GE T']\n",
        expected: [
            "7:19: routes[0].rate_limits[0]: unknown rate limit policy 'nope'",
            "8:20: routes[0].methods[1]: expected an HTTP method like GET; got 'GE T'",
        ]),
    InvalidCase(
        name: "duplicate route names",
        yaml: minimalConfig + "  - name: /a/\n    path_prefix: /b/\n    upstream: a\n",
        expected: ["7:11: routes[1].name: duplicate route name '/a/' (first at line 5)"]),
    InvalidCase(
        name: "route shadowed by an earlier prefix",
        yaml: minimalConfig + "  - path_prefix: /a/b/\n    upstream: a\n",
        expected: [
            "7:18: routes[1].path_prefix: route '/a/b/' can never match: route '/a/' (line 5) has prefix '/a/', "
                + "which matches first"
        ]),
    InvalidCase(
        name: "duplicate upstream names",
        yaml: minimalConfig.replacingFirst("routes:", with: "  a:\n    url: https://b.example\nroutes:"),
        expected: ["4:3: duplicate key 'a' (first at line 2)"]),
    InvalidCase(
        name: "missing routes",
        yaml: "upstreams:\n  a:\n    url: https://a.example\n",
        expected: ["1:1: missing required key 'routes'"]),
    InvalidCase(
        name: "routes that are not a sequence",
        yaml: minimalConfig.replacingFirst("routes:", with: "routes: /a/\nignored:"),
        expected: [
            "4:9: routes: expected a sequence; got '/a/'",
            "5:1: unknown key 'ignored' at the top level",
        ]),
    InvalidCase(
        name: "YAML syntax error",
        yaml: "upstreams:\n  a: [1, 2\nroutes: []\n",
        expected: [
            "3:7: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 6)"
        ]),
    InvalidCase(
        name: "empty file",
        yaml: "# nothing here\n",
        expected: ["1:1: the file is empty; expected a mapping with at least upstreams and routes"]),
    InvalidCase(
        name: "unset environment variable",
        yaml: minimalConfig.replacingFirst("url: https://a.example", with: "url: ${A_URL}"),
        expected: [
            "3:10: upstreams.a.url: environment variable 'A_URL' is not set (write ${A_URL:-default} for a default)"
        ]),
    InvalidCase(
        name: "unterminated variable reference",
        yaml: minimalConfig.replacingFirst("url: https://a.example", with: "url: https://${HOST"),
        expected: ["3:10: upstreams.a.url: '${' without a closing '}'"]),
    InvalidCase(
        name: "upstream name with a space",
        yaml: minimalConfig.replacingFirst("  a:", with: "  a b:").replacingFirst("upstream: a", with: "upstream: a b"),
        expected: ["2:3: upstream name 'a b' may contain only letters, digits, '_', '-' and '.'"]),
]

@Suite("Invalid configurations")
struct InvalidConfigTests {
    @Test("each invalid file reports exactly its problems, with positions", arguments: invalidCases)
    func invalidCase(_ testCase: InvalidCase) {
        #expect(problemLines(testCase.yaml, environment: testCase.environment) == testCase.expected)
    }

    @Test("there are many distinct invalid cases")
    func caseCount() {
        #expect(Set(invalidCases.map(\.name)).count >= 25)
    }

    @Test("every problem of a file is reported at once, sorted by line then column")
    func severalProblemsAtOnce() {
        let yaml = """
            server:
              listen: nowhere
              idle_timeout: 5 minutes
            rate_limits:
              p: { rate: 10/s, key: header:Bad Name }
            upstreams:
              a:
                url: https://a.example
                timeouts: { connect: 1x }
                colour: blue
            routes:
              - path_prefix: /a/
                upstream: missing
                rate_limits: [p, q]
              - path_prefix: /b/
                upstream: a
                methods: [GET]
                strip: true

            """
        #expect(
            problemLines(yaml) == [
                "2:11: server.listen: expected host:port like 0.0.0.0:8080 or [::1]:8080; got 'nowhere'",
                "3:17: server.idle_timeout: expected a duration like 250ms, 2s, 1m; got '5 minutes'",
                "5:25: rate_limits.p.key: expected client_ip, header:NAME, route or global; got 'header:Bad Name'",
                "9:26: upstreams.a.timeouts.connect: expected a duration like 250ms, 2s, 1m; got '1x'",
                "10:5: unknown key 'colour' in upstreams.a",
                "13:15: routes[0].upstream: unknown upstream 'missing' (known: a)",
                "14:22: routes[0].rate_limits[1]: unknown rate limit policy 'q' (known: p)",
                "18:5: unknown key 'strip' in routes[1]",
            ])
    }

    @Test("a duplicate key does not hide the problems after it")
    func duplicateKeyThenMore() {
        let yaml = """
            upstreams:
              a:
                url: https://a.example
                url: https://b.example
            routes:
              - path_prefix: /a/
                upstream: a
                methods: []

            """
        #expect(
            problemLines(yaml) == [
                "4:5: duplicate key 'url' (first at line 3)",
                "8:14: routes[0].methods: methods must list at least one method",
            ])
    }

    @Test("the error's description is one PATH:LINE:COLUMN line per problem")
    func errorDescription() throws {
        let loader = ConfigLoader(environment: [:], knownDialects: [])
        let error = #expect(throws: ConfigError.self) {
            try loader.parse(yaml: "foo: 1\nbar: 2\n", file: "conf/x.yaml")
        }
        #expect(
            error?.description == """
                conf/x.yaml:1:1: unknown key 'foo' at the top level
                conf/x.yaml:1:1: missing required key 'upstreams'
                conf/x.yaml:1:1: missing required key 'routes'
                conf/x.yaml:2:1: unknown key 'bar' at the top level
                """)
    }

    @Test("an unreadable file is one problem at 1:1")
    func unreadableFile() {
        let loader = ConfigLoader(environment: [:], knownDialects: [])
        let error = #expect(throws: ConfigError.self) {
            try loader.load(path: "/nonexistent/gateway.yaml")
        }
        #expect(error?.problems.count == 1)
        #expect(error?.description == "/nonexistent/gateway.yaml:1:1: cannot open the file: No such file or directory")
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = self.firstRange(of: target) else { return self }
        var result = self
        result.replaceSubrange(range, with: replacement)
        return result
    }
}
