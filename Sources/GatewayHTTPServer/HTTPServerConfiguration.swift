/// What the HTTP/1.1 listener accepts and how long it waits (a view of `server:` in the config).
public struct HTTPServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Request heads larger than this get 431.
    public var maxHeaderBytes: Int
    /// More header fields than this get 431.
    public var maxHeaderCount: Int
    /// Request bodies larger than this get 413 (counted as they arrive, chunked bodies too).
    public var maxBodyBytes: Int
    /// A keep-alive connection without a request for this long is closed.
    public var idleTimeout: Duration
    /// A request head must be complete this long after its first byte (408 otherwise), and a request body may not
    /// stall for longer than this between two reads.
    public var requestHeaderTimeout: Duration
    /// A request body must be complete this long after its head, plus one second per `minRequestBodyBytesPerSecond`
    /// bytes received (408 otherwise): a body trickled just fast enough never to stall still ends.
    public var requestBodyTimeout: Duration
    /// The body rate that earns more time past `requestBodyTimeout` (bytes per second, at least 1).
    public var minRequestBodyBytesPerSecond: Int
    /// A TLS handshake not complete this long after the connection opened is cut (only with `tls`).
    public var tlsHandshakeTimeout: Duration
    /// Connections beyond this are answered 503 and closed.
    public var maxConnections: Int
    /// Chunk extensions longer than this get 400.
    public var maxChunkExtensionBytes: Int
    /// Terminate TLS with this context (replaceable at run time) when set; plain HTTP otherwise.
    public var tls: ServerTLSContext?

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        maxHeaderBytes: Int = 16 * 1024,
        maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 10 * 1024 * 1024,
        idleTimeout: Duration = .seconds(60),
        requestHeaderTimeout: Duration = .seconds(10),
        requestBodyTimeout: Duration = .seconds(30),
        minRequestBodyBytesPerSecond: Int = 1024,
        tlsHandshakeTimeout: Duration = .seconds(10),
        maxConnections: Int = 10_000,
        maxChunkExtensionBytes: Int = 4096,
        tls: ServerTLSContext? = nil
    ) {
        self.host = host
        self.port = port
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.idleTimeout = idleTimeout
        self.requestHeaderTimeout = requestHeaderTimeout
        self.requestBodyTimeout = requestBodyTimeout
        self.minRequestBodyBytesPerSecond = minRequestBodyBytesPerSecond
        self.tlsHandshakeTimeout = tlsHandshakeTimeout
        self.maxConnections = maxConnections
        self.maxChunkExtensionBytes = maxChunkExtensionBytes
        self.tls = tls
    }
}
