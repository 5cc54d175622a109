/// The HTTP version an upstream is spoken to in (`upstreams.NAME.http_version`).
public enum UpstreamHTTPVersion: String, Sendable, Hashable, CaseIterable {
    /// HTTP/2 when TLS ALPN offers it, else HTTP/1.1; plain-HTTP upstreams stay on HTTP/1.1.
    case auto
    /// HTTP/1.1 only.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The version's own digits: `http11` would read as HTTP/11.
    case http1_1 = "1.1"
    /// HTTP/2: negotiated by ALPN over TLS, with prior knowledge (RFC 9113 section 3.3) over plain HTTP.
    case http2 = "2"
}

/// A forward proxy every call to an upstream goes through (`upstreams.NAME.proxy`).
///
/// The URL is kept as written (credentials included, as curl reads them from it); ``description`` leaves the
/// credentials out, so the value is safe in logs.
public struct EgressProxy: Sendable, Hashable, CustomStringConvertible {
    /// The proxy protocols supported: HTTP and HTTPS proxies (the gateway always tunnels through `CONNECT`), and
    /// SOCKS5 with the name resolved by the proxy.
    public enum Scheme: String, Sendable, Hashable, CaseIterable {
        case http
        case https
        case socks5h
    }

    /// The URL for `CURLOPT_PROXY`, credentials included.
    public var url: String
    public var scheme: Scheme
    public var host: String
    public var port: Int
    /// Whether the URL carries `user[:password]@`.
    public var hasCredentials: Bool

    /// Parses `scheme://[user[:password]@]host[:port][/]`; nil for any other shape. The default ports are 80 (http),
    /// 443 (https) and 1080 (socks5h).
    public init?(_ text: String) {
        guard let schemeEnd = text.firstRange(of: "://"),
            let scheme = Scheme(rawValue: text[..<schemeEnd.lowerBound].lowercased())
        else { return nil }
        var rest = text[schemeEnd.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("?"), !rest.contains("#") else { return nil }
        var hasCredentials = false
        if let at = rest.lastIndex(of: "@") {
            guard at != rest.startIndex else { return nil }
            hasCredentials = true
            rest = rest[rest.index(after: at)...]
        }
        let defaultPort: Int
        switch scheme {
        case .http: defaultPort = 80
        case .https: defaultPort = 443
        case .socks5h: defaultPort = 1080
        }
        guard let parsed = UpstreamURL("http://\(rest)") else { return nil }
        let hasPort = rest.hasPrefix("[") ? rest.contains("]:") : rest.contains(":")
        self.url = text
        self.scheme = scheme
        self.host = parsed.host
        self.port = hasPort ? parsed.port : defaultPort
        self.hasCredentials = hasCredentials
    }

    /// `scheme://host:port`, without credentials.
    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(self.scheme.rawValue)://\(host):\(self.port)"
    }
}

/// Stop calling a vendor whose limit is spent (`upstreams.NAME.quota_shield`).
public struct QuotaShieldConfiguration: Sendable, Hashable {
    /// Whose limit a vendor's "spent" applies to.
    public enum Key: Sendable, Hashable, CustomStringConvertible {
        /// One limit for every caller of the upstream (the gateway's own credentials).
        case global
        /// Each value of this request header (each client's own vendor credentials) has its own limit.
        case header(String)

        public var description: String {
            switch self {
            case .global: return "global"
            case .header(let name): return "header:\(name)"
            }
        }
    }

    public var key: Key
    /// A reset further away than this is not trusted (a vendor's bad clock must not shut an upstream off for days).
    public var maxWait: Duration

    public init(key: Key = .global, maxWait: Duration = .seconds(3600)) {
        self.key = key
        self.maxWait = maxWait
    }
}

/// `server.tracing`: W3C trace context is always propagated; this sets the sampling of new traces and names the
/// OTLP endpoint (spans are not exported by this build: see the README, "Trace context").
public struct TracingConfiguration: Sendable, Hashable {
    /// `http(s)://host:port` of an OTLP/HTTP receiver.
    public var otlpEndpoint: String?
    /// The share of new traces (started here, not by the client) marked sampled, from 0 to 1.
    public var sampleRatio: Double

    public init(otlpEndpoint: String? = nil, sampleRatio: Double = 1.0) {
        self.otlpEndpoint = otlpEndpoint
        self.sampleRatio = sampleRatio
    }
}
