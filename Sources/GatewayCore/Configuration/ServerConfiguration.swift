/// The `server:` section: listeners, limits on what clients may send, timeouts (SPEC section 2).
public struct ServerConfiguration: Sendable, Equatable {
    public var listen: ListenAddress
    public var adminListen: ListenAddress
    /// Larger request heads get 431.
    public var maxHeaderBytes: Int
    /// More header fields get 431.
    public var maxHeaderCount: Int
    /// Larger request bodies get 413.
    public var maxBodyBytes: Int
    /// Idle keep-alive connections are closed after this.
    public var idleTimeout: Duration
    /// A request head not complete within this gets 408 (and a body stalled this long).
    public var requestHeaderTimeout: Duration
    /// A request body not complete this long after its head gets 408, unless it earned more time by its rate.
    public var requestBodyTimeout: Duration
    /// Each this many bytes of a body received earn it one more second past `requestBodyTimeout` (bytes/second).
    public var minRequestBodyBytesPerSecond: Int
    /// How long in-flight requests may take to finish on shutdown.
    public var drainTimeout: Duration
    /// Peers whose `X-Forwarded-For` is believed.
    public var trustedProxies: [CIDRBlock]
    /// One JSON line per request on stdout.
    public var accessLog: Bool
    /// Client connections beyond this are refused.
    public var maxConnections: Int
    /// Terminate TLS on `listen` when set.
    public var tls: ServerTLSConfiguration?
    /// Trace sampling and the OTLP endpoint (trace context is propagated either way).
    public var tracing: TracingConfiguration?

    public init(
        listen: ListenAddress = .init(host: "0.0.0.0", port: 8080),
        adminListen: ListenAddress = .init(host: "127.0.0.1", port: 9901),
        maxHeaderBytes: Int = 16 * 1024,
        maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 10 * 1024 * 1024,
        idleTimeout: Duration = .seconds(60),
        requestHeaderTimeout: Duration = .seconds(10),
        requestBodyTimeout: Duration = .seconds(30),
        minRequestBodyBytesPerSecond: Int = 1024,
        drainTimeout: Duration = .seconds(30),
        trustedProxies: [CIDRBlock] = [],
        accessLog: Bool = true,
        maxConnections: Int = 10_000,
        tls: ServerTLSConfiguration? = nil,
        tracing: TracingConfiguration? = nil
    ) {
        self.listen = listen
        self.adminListen = adminListen
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.idleTimeout = idleTimeout
        self.requestHeaderTimeout = requestHeaderTimeout
        self.requestBodyTimeout = requestBodyTimeout
        self.minRequestBodyBytesPerSecond = minRequestBodyBytesPerSecond
        self.drainTimeout = drainTimeout
        self.trustedProxies = trustedProxies
        self.accessLog = accessLog
        self.maxConnections = maxConnections
        self.tls = tls
        self.tracing = tracing
    }
}

/// Certificate and key files for TLS on the client-facing listener.
public struct ServerTLSConfiguration: Sendable, Hashable {
    public var certificate: String
    public var privateKey: String
    /// A handshake not complete this long after the connection opened is cut.
    public var handshakeTimeout: Duration

    public init(certificate: String, privateKey: String, handshakeTimeout: Duration = .seconds(10)) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.handshakeTimeout = handshakeTimeout
    }
}

/// The `errors:` section: how envelopes are written.
public struct ErrorsConfiguration: Sendable, Equatable {
    /// Which upstream messages may reach the client as `detail`.
    public enum ExposeUpstreamMessages: String, Sendable, CaseIterable {
        /// Every upstream message is shown.
        case all
        /// 4xx messages are shown; 5xx messages are replaced by the code's neutral sentence.
        case clientErrors = "client_errors"
        /// No upstream message is shown.
        case none
    }

    /// RFC 9457 `type` = `typeBase` + code.
    public var typeBase: String
    public var exposeUpstreamMessages: ExposeUpstreamMessages

    public init(
        typeBase: String = "https://errors.gateway.dev/", exposeUpstreamMessages: ExposeUpstreamMessages = .clientErrors
    ) {
        self.typeBase = typeBase
        self.exposeUpstreamMessages = exposeUpstreamMessages
    }
}
