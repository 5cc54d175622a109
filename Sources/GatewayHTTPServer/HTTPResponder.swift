public import NIOCore
public import NIOHTTP1

/// A complete request as the listener hands it on: a validated head and the whole body (bounded by
/// `max_body_bytes`; a proxy must keep it anyway to replay it on a retry).
public struct ServerRequest: Sendable {
    public var head: HTTPRequestHead
    /// The origin-form target (an absolute-form target is rewritten, RFC 9112 section 3.2.2).
    public var target: String
    /// The body, or nil when the request had none.
    public var body: ByteBuffer?
    /// The socket peer.
    public var remoteAddress: SocketAddress?
    /// The peer's IP address as text (for `X-Forwarded-For`, rate-limit keys and the access log), formatted once per
    /// connection by the listener.
    public var peerIP: String?
    /// When the head was complete, for latency measurements.
    public var receivedAt: ContinuousClock.Instant

    public init(
        head: HTTPRequestHead, target: String, body: ByteBuffer?, remoteAddress: SocketAddress?,
        peerIP: String?, receivedAt: ContinuousClock.Instant
    ) {
        self.head = head
        self.target = target
        self.body = body
        self.remoteAddress = remoteAddress
        self.peerIP = peerIP
        self.receivedAt = receivedAt
    }
}

/// A response the listener writes in one go (refusals, and any response whose body is already in memory).
public struct ServerResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

extension ServerResponse {
    /// What goes on the wire for this response, decided once for the responder's writes and the listener's refusals:
    /// the fields with `Content-Length` set to the body's size, and the body to write, nil when it is empty or the
    /// request was `HEAD` (whose head still announces the length a `GET` would get, RFC 9110 section 9.3.2).
    func framed(isHeadRequest: Bool) -> (headers: HTTPHeaders, body: ByteBuffer?) {
        var headers = self.headers
        headers.replaceOrAdd(name: "content-length", value: String(self.body.readableBytes))
        let body = isHeadRequest || self.body.readableBytes == 0 ? nil : self.body
        return (headers, body)
    }
}

/// What the listener calls for each request. It knows nothing of proxying; the gateway implements this.
public protocol HTTPResponder: Sendable {
    /// Answers one request through `writer`. Throwing after the head was written aborts the connection (the client
    /// can tell the body is incomplete); throwing before makes the listener answer ``ServerRefusal/internalError``.
    func respond(to request: ServerRequest, writer: ResponseWriter) async throws

    /// Renders a refusal the listener makes itself (the gateway answers with its canonical envelope).
    /// - Parameter head: the request's head when it was decoded, else nil.
    func response(for refusal: ServerRefusal, head: HTTPRequestHead?, remoteAddress: SocketAddress?) -> ServerResponse
}
