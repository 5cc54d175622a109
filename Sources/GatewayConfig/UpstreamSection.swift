import GatewayCore
import HTTPTypes

/// Reads `upstreams:` (SPEC section 2 and section 3, "Dialects").
struct UpstreamSection {
    /// Names accepted for `dialect:` besides `auto`, supplied by the normalizer module.
    let knownDialects: Set<String>

    /// Stands in for an invalid `url` while the rest of the upstream is checked; never returned.
    static let placeholderURL = UpstreamURL(scheme: .http, host: "invalid")

    static let keys = [
        "url", "dialect", "codes", "timeouts", "retry", "circuit_breaker", "max_in_flight", "tls", "headers",
        "preserve_host", "errors_in_success", "http_version", "max_connections", "proxy", "no_proxy", "quota_shield",
    ]
    static let timeoutKeys = ["connect", "per_try", "request", "idle"]
    static let retryKeys = ["attempts", "backoff", "retry_on", "max_retry_after", "budget", "idempotent_only"]
    static let backoffKeys = ["base", "max"]
    static let budgetKeys = ["ratio", "min_per_second"]
    static let circuitBreakerKeys = ["consecutive_failures", "open_for"]
    static let tlsKeys = ["ca_file", "client_certificate", "client_key"]
    static let headerKeys = ["set", "remove"]

    func read(_ node: ConfigNode) -> [String: UpstreamConfiguration] {
        guard let entries = node.entries() else { return [:] }
        if entries.isEmpty { node.problemAtKey("at least one upstream is required") }
        var upstreams: [String: UpstreamConfiguration] = [:]
        for entry in entries {
            let validName = entry.checkName(kind: "upstream")
            if let upstream = self.readUpstream(name: entry.name, entry.value), validName {
                upstreams[entry.name] = upstream
            }
        }
        return upstreams
    }

    private func readUpstream(name: String, _ node: ConfigNode) -> UpstreamConfiguration? {
        guard let fields = node.mapping(allowedKeys: Self.keys) else { return nil }
        let url = fields.required("url")?.value(expecting: "a URL like https://api.example.com[:port][/base/path]") {
            UpstreamURL($0)
        }
        // The other keys are read even without a valid URL, so that their problems are reported too.
        let upstream = self.readRest(fields, into: UpstreamConfiguration(name: name, url: url ?? Self.placeholderURL))
        return url == nil ? nil : upstream
    }

    private func readRest(_ fields: ConfigMapping, into start: UpstreamConfiguration) -> UpstreamConfiguration {
        var upstream = start
        if let node = fields["dialect"], let dialect = self.readDialect(node) { upstream.dialect = dialect }
        if let node = fields["codes"] { upstream.codes = Self.readCodes(node) }
        if let node = fields["timeouts"] { upstream.timeouts = Self.readTimeouts(node) }
        if let node = fields["retry"] { upstream.retry = Self.readRetry(node) }
        if let node = fields["circuit_breaker"], !node.isNull,
            let breaker = node.mapping(allowedKeys: Self.circuitBreakerKeys)
        {
            var configuration = CircuitBreakerConfiguration()
            if let value = breaker["consecutive_failures"]?.integer(atLeast: 1) {
                configuration.consecutiveFailures = value
            }
            if let value = breaker["open_for"]?.duration() { configuration.openFor = value }
            upstream.circuitBreaker = configuration
        }
        if let value = fields["max_in_flight"]?.integer(atLeast: 1) { upstream.maxInFlight = value }
        if let node = fields["tls"] { upstream.tls = Self.readTLS(node) }
        if let node = fields["headers"] { upstream.headers = Self.readHeaders(node) }
        if let value = fields["preserve_host"]?.bool() { upstream.preserveHost = value }
        if let value = fields["errors_in_success"]?.bool() { upstream.errorsInSuccess = value }
        EgressSection.read(fields, into: &upstream)
        return upstream
    }

    // MARK: Dialect and codes

    private func readDialect(_ node: ConfigNode) -> DialectSetting? {
        if case .mapping = node.node { return Self.readDialectMapping(node) }
        let known = self.knownDialects.subtracting(["auto"]).sorted()
        guard let name = node.text(expecting: "auto, a built-in dialect name or a mapping") else { return nil }
        if name == "auto" { return .auto }
        if self.knownDialects.contains(name) { return .builtin(name) }
        node.problem("unknown dialect '\(name)'; expected auto, a mapping, or one of \(known.joined(separator: ", "))")
        return nil
    }

    static let dialectKeys = ["code", "message", "errors", "error_field", "error_message", "error_code"]

    private static func readDialectMapping(_ node: ConfigNode) -> DialectSetting? {
        guard let fields = node.mapping(allowedKeys: self.dialectKeys) else { return nil }
        func pointer(_ key: String) -> String? {
            fields[key]?.value(expecting: "a JSON Pointer like /error/code") { text in
                JSONPointerSyntax.isValid(text) ? text : nil
            }
        }
        let mapping = DialectMapping(
            code: pointer("code"), message: pointer("message"), errors: pointer("errors"),
            errorField: pointer("error_field"), errorMessage: pointer("error_message"),
            errorCode: pointer("error_code"))
        if fields.values.isEmpty {
            node.problem("a dialect mapping needs at least one of code, message, errors")
            return nil
        }
        if fields["errors"] == nil {
            for key in ["error_field", "error_message", "error_code"] where fields[key] != nil {
                fields[key]?.problemAtKey("\(key) needs errors (the pointer to the array of items)")
            }
        }
        return .mapping(mapping)
    }

    private static func readCodes(_ node: ConfigNode) -> [String: ErrorCode] {
        guard let entries = node.entries() else { return [:] }
        var codes: [String: ErrorCode] = [:]
        let expectation = "a canonical error code (\(ErrorCode.all.map(\.rawValue).joined(separator: ", ")))"
        for entry in entries {
            let code = entry.value.value(expecting: expectation) { ErrorCode(rawValue: $0) }
            if let code { codes[entry.name] = code }
        }
        return codes
    }

    // MARK: Timeouts and retries

    private static func readTimeouts(_ node: ConfigNode) -> UpstreamTimeouts {
        var timeouts = UpstreamTimeouts()
        guard let fields = node.mapping(allowedKeys: self.timeoutKeys) else { return timeouts }
        let perTry = fields["per_try"]?.duration()
        if let value = fields["connect"]?.duration() { timeouts.connect = value }
        if let value = fields["request"]?.duration() { timeouts.request = value }
        if let value = fields["idle"]?.duration() { timeouts.idle = value }
        timeouts.perTry = perTry ?? timeouts.request
        if let perTry, perTry > timeouts.request, let node = fields["per_try"] {
            node.problem("per_try (\(Self.format(perTry))) is longer than request (\(Self.format(timeouts.request)))")
        }
        return timeouts
    }

    private static func readRetry(_ node: ConfigNode) -> RetryConfiguration {
        var retry = RetryConfiguration()
        guard let fields = node.mapping(allowedKeys: self.retryKeys) else { return retry }
        if let value = fields["attempts"]?.integer(atLeast: 1) { retry.attempts = value }
        if let backoffNode = fields["backoff"], let backoff = backoffNode.mapping(allowedKeys: self.backoffKeys) {
            let base = backoff["base"]?.duration(allowingZero: true)
            let max = backoff["max"]?.duration(allowingZero: true)
            if let base { retry.backoffBase = base }
            if let max { retry.backoffMax = max }
            if retry.backoffBase > retry.backoffMax, let blame = backoff["base"] ?? backoff["max"] {
                let base = Self.format(retry.backoffBase)
                blame.problem("backoff base (\(base)) is longer than max (\(Self.format(retry.backoffMax)))")
            }
        }
        if let items = fields["retry_on"]?.sequence() {
            let expectation = "connect_failure, timeout, reset or a status from 100 to 599"
            retry.retryOn = Set(items.compactMap { item in item.value(expecting: expectation, Self.parseCondition) })
        }
        if let value = fields["max_retry_after"]?.duration(allowingZero: true) { retry.maxRetryAfter = value }
        if let budget = fields["budget"]?.mapping(allowedKeys: self.budgetKeys) {
            if let value = budget["ratio"]?.double(in: 0...1) { retry.budgetRatio = value }
            if let value = budget["min_per_second"]?.integer(atLeast: 0) { retry.budgetMinPerSecond = value }
        }
        if let value = fields["idempotent_only"]?.bool() { retry.idempotentOnly = value }
        return retry
    }

    static func parseCondition(_ text: String) -> RetryCondition? {
        switch text {
        case "connect_failure": return .connectFailure
        case "timeout": return .timeout
        case "reset": return .reset
        default:
            guard text.count == 3, let status = Int(text), (100...599).contains(status) else { return nil }
            return .status(status)
        }
    }

    /// A duration in the file's own syntax, for messages.
    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        return "\(milliseconds / 1000)s"
    }

    // MARK: TLS and headers

    private static func readTLS(_ node: ConfigNode) -> UpstreamTLSConfiguration {
        var tls = UpstreamTLSConfiguration()
        guard let fields = node.mapping(allowedKeys: self.tlsKeys) else { return tls }
        tls.caFile = fields["ca_file"]?.string()
        tls.clientCertificate = fields["client_certificate"]?.string()
        tls.clientKey = fields["client_key"]?.string()
        switch (fields["client_certificate"], fields["client_key"]) {
        case (.some, .none): fields["client_certificate"]?.problemAtKey("client_certificate needs client_key")
        case (.none, .some): fields["client_key"]?.problemAtKey("client_key needs client_certificate")
        default: break
        }
        return tls
    }

    /// Fields the proxy itself manages (framing, hop-by-hop, `Host`): a config may neither set nor remove them.
    static let reservedHeaders: Set<HTTPField.Name> = HopByHopHeaders.alwaysRemoved.union([
        .contentLength, HTTPField.Name("Host")!,
    ])

    private static func readHeaders(_ node: ConfigNode) -> HeaderRewrite {
        var rewrite = HeaderRewrite()
        guard let fields = node.mapping(allowedKeys: self.headerKeys) else { return rewrite }
        for entry in fields["set"]?.entries() ?? [] {
            guard let name = self.headerName(entry.name, at: entry) else {
                _ = entry.value.text(expecting: "a header value")
                continue
            }
            let value = entry.value.value(expecting: "a header value without control characters") { text in
                HTTPField.isValidValue(text) ? text : nil
            }
            if let value { rewrite.set.append(HTTPField(name: name, value: value)) }
        }
        for item in fields["remove"]?.sequence() ?? [] {
            guard let text = item.text(expecting: "a header name") else { continue }
            guard let name = HTTPField.Name(text) else {
                item.problem("'\(text)' is not a valid header name")
                continue
            }
            if self.reservedHeaders.contains(name) {
                item.problem("header '\(text)' is managed by the gateway and cannot be removed")
                continue
            }
            rewrite.remove.append(name)
        }
        return rewrite
    }

    private static func headerName(_ text: String, at entry: ConfigEntry) -> HTTPField.Name? {
        guard let name = HTTPField.Name(text) else {
            entry.problemAtKey("'\(text)' is not a valid header name")
            return nil
        }
        if self.reservedHeaders.contains(name) {
            entry.problemAtKey("header '\(text)' is managed by the gateway and cannot be set")
            return nil
        }
        return name
    }
}

/// RFC 6901 JSON Pointer syntax: empty (the whole document) or `/`-separated tokens where `~` is only `~0` or `~1`.
enum JSONPointerSyntax {
    static func isValid(_ text: String) -> Bool {
        if text.isEmpty { return true }
        guard text.hasPrefix("/") else { return false }
        var characters = text.makeIterator()
        while let character = characters.next() {
            if character == "~" {
                guard let next = characters.next(), next == "0" || next == "1" else { return false }
            }
        }
        return true
    }
}
