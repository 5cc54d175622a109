public import HTTPTypes

/// One upstream service (`upstreams.NAME`).
public struct UpstreamConfiguration: Sendable, Equatable {
    public var name: String
    public var url: UpstreamURL
    public var dialect: DialectSetting
    /// Vendor code -> canonical code, applied after any dialect.
    public var codes: [String: ErrorCode]
    public var timeouts: UpstreamTimeouts
    public var retry: RetryConfiguration
    public var circuitBreaker: CircuitBreakerConfiguration?
    /// Requests in flight beyond this get 503 at once.
    public var maxInFlight: Int
    public var tls: UpstreamTLSConfiguration
    public var headers: HeaderRewrite
    /// Send the client's `Host` instead of the upstream URL's host.
    public var preserveHost: Bool
    /// Rewrite 2xx responses whose body is unmistakably an error in a known dialect.
    public var errorsInSuccess: Bool
    /// `http_version`: HTTP/1.1, HTTP/2, or HTTP/2 where TLS ALPN offers it.
    public var httpVersion: UpstreamHTTPVersion
    /// `max_connections`: connections open to the upstream at most (nil: no limit of the upstream's own).
    public var maxConnections: Int?
    /// `proxy`: the forward proxy calls go through (nil: direct).
    public var proxy: EgressProxy?
    /// `no_proxy`: hosts (or `.domain` suffixes, IPs) reached directly even with a proxy.
    public var noProxy: [String]
    /// `quota_shield`: answer locally while the vendor says its limit is spent (nil: off).
    public var quotaShield: QuotaShieldConfiguration?

    public init(
        name: String,
        url: UpstreamURL,
        dialect: DialectSetting = .auto,
        codes: [String: ErrorCode] = [:],
        timeouts: UpstreamTimeouts = .init(),
        retry: RetryConfiguration = .init(),
        circuitBreaker: CircuitBreakerConfiguration? = nil,
        maxInFlight: Int = 1000,
        tls: UpstreamTLSConfiguration = .init(),
        headers: HeaderRewrite = .init(),
        preserveHost: Bool = false,
        errorsInSuccess: Bool = false,
        httpVersion: UpstreamHTTPVersion = .auto,
        maxConnections: Int? = nil,
        proxy: EgressProxy? = nil,
        noProxy: [String] = [],
        quotaShield: QuotaShieldConfiguration? = nil
    ) {
        self.name = name
        self.url = url
        self.dialect = dialect
        self.codes = codes
        self.timeouts = timeouts
        self.retry = retry
        self.circuitBreaker = circuitBreaker
        self.maxInFlight = maxInFlight
        self.tls = tls
        self.headers = headers
        self.preserveHost = preserveHost
        self.errorsInSuccess = errorsInSuccess
        self.httpVersion = httpVersion
        self.maxConnections = maxConnections
        self.proxy = proxy
        self.noProxy = noProxy
        self.quotaShield = quotaShield
    }
}

/// An upstream's base URL, split into the parts the proxy joins request paths onto.
public struct UpstreamURL: Sendable, Hashable, CustomStringConvertible {
    /// The upstream's protocol: plain HTTP or HTTP over TLS.
    public enum Scheme: String, Sendable {
        case http
        case https
    }

    public var scheme: Scheme { didSet { self.formatOriginAndAuthority() } }
    /// The host as written (an IPv6 literal without brackets).
    public var host: String { didSet { self.formatOriginAndAuthority() } }
    public var port: Int { didSet { self.formatOriginAndAuthority() } }
    /// The base path without a trailing slash ("" for none).
    public var basePath: String
    /// `scheme://authority` with the port always written (every request's URL starts with it).
    public private(set) var origin = ""
    /// The authority for a `Host` header: the port is left out when it is the scheme's default.
    public private(set) var authority = ""

    public init(scheme: Scheme, host: String, port: Int? = nil, basePath: String = "") {
        self.scheme = scheme
        self.host = host
        self.port = port ?? (scheme == .https ? 443 : 80)
        var base = basePath
        while base.hasSuffix("/") { base.removeLast() }
        self.basePath = base
        self.formatOriginAndAuthority()
    }

    /// `origin` and `authority`, formatted when a part changes rather than for every request.
    private mutating func formatOriginAndAuthority() {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        let defaultPort = self.scheme == .https ? 443 : 80
        self.origin = "\(self.scheme.rawValue)://\(host):\(self.port)"
        self.authority = self.port == defaultPort ? host : "\(host):\(self.port)"
    }

    /// Parses `scheme://host[:port][/base/path]`; nil for anything else (no user info, query or fragment).
    public init?(_ text: String) {
        guard let schemeEnd = text.firstRange(of: "://"),
            let scheme = Scheme(rawValue: text[..<schemeEnd.lowerBound].lowercased())
        else { return nil }
        let rest = text[schemeEnd.upperBound...]
        guard !rest.contains("?"), !rest.contains("#"), !rest.contains("@") else { return nil }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let path = String(rest[authorityEnd...])
        var host: Substring
        var port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let value = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = value
        } else {
            host = authority
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { return nil }
        if let port, !(1...65535).contains(port) { return nil }
        self.init(scheme: scheme, host: String(host), port: port, basePath: path)
    }

    public var description: String { "\(self.scheme.rawValue)://\(self.authority)\(self.basePath)" }
}

/// How an upstream's error bodies are read (SPEC section 3, "Dialects").
public enum DialectSetting: Sendable, Hashable {
    /// Recognise the shape from the body and headers.
    case auto
    /// A built-in family or vendor preset, by name.
    case builtin(String)
    /// JSON Pointers into the vendor's body.
    case mapping(DialectMapping)
}

/// A dialect written in the config: where in a vendor's JSON body its code, message and field errors are.
public struct DialectMapping: Sendable, Hashable {
    public var code: String?
    public var message: String?
    /// An array of items, or an object of field -> message(s).
    public var errors: String?
    public var errorField: String?
    public var errorMessage: String?
    public var errorCode: String?

    public init(
        code: String? = nil, message: String? = nil, errors: String? = nil, errorField: String? = nil,
        errorMessage: String? = nil, errorCode: String? = nil
    ) {
        self.code = code
        self.message = message
        self.errors = errors
        self.errorField = errorField
        self.errorMessage = errorMessage
        self.errorCode = errorCode
    }
}

/// The upstream's time limits (SPEC section 2, `timeouts`).
public struct UpstreamTimeouts: Sendable, Hashable {
    /// Each TCP+TLS connect.
    public var connect: Duration
    /// Each try's wait for the response head.
    public var perTry: Duration
    /// The wait for the final response head, retries and backoff included.
    public var request: Duration
    /// A body stream without progress for this long is aborted.
    public var idle: Duration

    public init(
        connect: Duration = .seconds(2), perTry: Duration? = nil, request: Duration = .seconds(30),
        idle: Duration = .seconds(60)
    ) {
        self.connect = connect
        self.perTry = perTry ?? request
        self.request = request
        self.idle = idle
    }
}

/// A condition under which a try is retried (`retry_on`).
public enum RetryCondition: Sendable, Hashable, CustomStringConvertible {
    /// Refused, unreachable, DNS: the request never left.
    case connectFailure
    case timeout
    /// The connection broke before a response head.
    case reset
    /// The upstream answered with this status.
    case status(Int)

    public var description: String {
        switch self {
        case .connectFailure: return "connect_failure"
        case .timeout: return "timeout"
        case .reset: return "reset"
        case .status(let status): return String(status)
        }
    }
}

/// The retry policy of one upstream (SPEC section 2, `retry`).
public struct RetryConfiguration: Sendable, Hashable {
    /// Total tries, the first included.
    public var attempts: Int
    public var backoffBase: Duration
    public var backoffMax: Duration
    public var retryOn: Set<RetryCondition>
    /// An upstream `Retry-After` above this is not waited out.
    public var maxRetryAfter: Duration
    public var budgetRatio: Double
    public var budgetMinPerSecond: Int
    public var idempotentOnly: Bool

    public init(
        attempts: Int = 3,
        backoffBase: Duration = .milliseconds(100),
        backoffMax: Duration = .seconds(2),
        retryOn: Set<RetryCondition> = [
            .connectFailure, .timeout, .reset, .status(502), .status(503), .status(504), .status(429),
        ],
        maxRetryAfter: Duration = .seconds(10),
        budgetRatio: Double = 0.2,
        budgetMinPerSecond: Int = 10,
        idempotentOnly: Bool = true
    ) {
        self.attempts = attempts
        self.backoffBase = backoffBase
        self.backoffMax = backoffMax
        self.retryOn = retryOn
        self.maxRetryAfter = maxRetryAfter
        self.budgetRatio = budgetRatio
        self.budgetMinPerSecond = budgetMinPerSecond
        self.idempotentOnly = idempotentOnly
    }
}

/// Fail fast while an upstream keeps failing (`circuit_breaker`).
public struct CircuitBreakerConfiguration: Sendable, Hashable {
    public var consecutiveFailures: Int
    public var openFor: Duration

    public init(consecutiveFailures: Int = 5, openFor: Duration = .seconds(10)) {
        self.consecutiveFailures = consecutiveFailures
        self.openFor = openFor
    }
}

/// TLS towards an upstream: verification stays on; these add trust and client identity.
public struct UpstreamTLSConfiguration: Sendable, Hashable {
    /// A PEM bundle of CAs to trust instead of the system's.
    public var caFile: String?
    public var clientCertificate: String?
    public var clientKey: String?

    public init(caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }
}

/// Header changes on the way upstream (`headers.set` / `headers.remove`).
public struct HeaderRewrite: Sendable, Hashable {
    /// Added or replaced.
    public var set: [HTTPField]
    public var remove: [HTTPField.Name]

    public init(set: [HTTPField] = [], remove: [HTTPField.Name] = []) {
        self.set = set
        self.remove = remove
    }
}
