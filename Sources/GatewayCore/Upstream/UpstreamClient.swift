public import HTTPTypes
public import NIOCore

/// One try at an upstream: everything the transport needs, already decided by the proxy.
public struct UpstreamRequest: Sendable {
    public var method: HTTPRequest.Method
    /// The absolute URL: scheme, authority, path and query, the query byte for byte as the client sent it.
    public var url: String
    /// End-to-end headers to send (hop-by-hop ones already removed, forwarding headers added).
    public var headers: HTTPFields
    /// The request body, kept for replay; nil for none.
    public var body: ByteBuffer?
    public var connectTimeout: Duration
    /// The wait for the response head.
    public var headTimeout: Duration
    /// A body without progress for this long aborts the transfer.
    public var idleTimeout: Duration
    public var tls: UpstreamTLSConfiguration
    public var httpVersion: UpstreamHTTPVersion
    /// The forward proxy to go through, and the hosts that bypass it.
    public var proxy: EgressProxy?
    public var noProxy: [String]
    /// The request's W3C trace context; each try sends it with a span id of its own (``beginTry(using:)``).
    public var trace: TraceContext?

    public init(
        method: HTTPRequest.Method, url: String, headers: HTTPFields, body: ByteBuffer? = nil,
        connectTimeout: Duration = .seconds(2), headTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(60), tls: UpstreamTLSConfiguration = .init(),
        httpVersion: UpstreamHTTPVersion = .auto, proxy: EgressProxy? = nil, noProxy: [String] = [],
        trace: TraceContext? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
        self.tls = tls
        self.httpVersion = httpVersion
        self.proxy = proxy
        self.noProxy = noProxy
        self.trace = trace
    }
}

/// The final (non-1xx) response head of a try, already validated as safe to pass on.
public struct UpstreamResponseHead: Sendable {
    public var status: Int
    public var reason: String
    /// End-to-end and hop-by-hop headers as received; the proxy filters them.
    public var headers: HTTPFields
    /// Whether the response came over HTTP/2 (its status line read `HTTP/2`).
    public var isHTTP2: Bool

    public init(status: Int, reason: String = "", headers: HTTPFields, isHTTP2: Bool = false) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.isHTTP2 = isHTTP2
    }
}

/// A response whose head has arrived and whose body streams with backpressure.
public struct UpstreamResponse: Sendable {
    public var head: UpstreamResponseHead
    /// The body. Reading it slowly slows the upstream transfer down; dropping it cancels the transfer.
    public var body: UpstreamResponseBody

    public init(head: UpstreamResponseHead, body: UpstreamResponseBody) {
        self.head = head
        self.body = body
    }
}

/// The stream of body chunks of one upstream response; it throws ``UpstreamError`` if the transfer breaks.
///
/// A type-erased wrapper, so `GatewayCore` can name the transport's stream without importing the transport. A body
/// already complete when its head is handed out (a small response that arrived at once) is held as its chunks:
/// reading it allocates nothing and never suspends.
public struct UpstreamResponseBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    private enum Storage: Sendable {
        case buffered([ByteBuffer])
        case streamed(@Sendable () -> () async throws -> ByteBuffer?)
    }

    private let storage: Storage

    public init<Base: AsyncSequence & Sendable>(_ base: Base) where Base.Element == ByteBuffer {
        self.storage = .streamed {
            let box = IteratorBox(base.makeAsyncIterator())
            return { try await box.next() }
        }
    }

    private init(storage: Storage) {
        self.storage = storage
    }

    /// Holds a base iterator so that the erased iterator can advance it; one consumer at a time, as for every
    /// async iterator.
    private final class IteratorBox<Base: AsyncIteratorProtocol> where Base.Element == ByteBuffer {
        var base: Base
        init(_ base: Base) { self.base = base }
        func next() async throws -> ByteBuffer? { try await self.base.next() }
    }

    /// A body made of the given chunks: a response the transport already holds whole, and tests.
    public static func buffered(_ chunks: [ByteBuffer]) -> UpstreamResponseBody {
        UpstreamResponseBody(storage: .buffered(chunks))
    }

    /// The whole body, when it is already held (reading it would never wait for the upstream); nil for a stream.
    public var bufferedChunks: [ByteBuffer]? {
        if case .buffered(let chunks) = self.storage { return chunks }
        return nil
    }

    /// Whether the whole body is already held.
    public var isBuffered: Bool { self.bufferedChunks != nil }

    public func makeAsyncIterator() -> AsyncIterator {
        switch self.storage {
        case .buffered(let chunks):
            return AsyncIterator(chunks: chunks[...], nextChunk: nil)
        case .streamed(let makeNext):
            return AsyncIterator(chunks: [], nextChunk: makeNext())
        }
    }

    /// Yields the body's chunks in order.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: ArraySlice<ByteBuffer>
        let nextChunk: (() async throws -> ByteBuffer?)?

        public mutating func next() async throws -> ByteBuffer? {
            if let nextChunk = self.nextChunk { return try await nextChunk() }
            return self.chunks.popFirst()
        }
    }
}

/// Sends requests to upstreams. The proxy owns every decision (route, retries, timeouts); an implementation only
/// moves bytes, and maps transport failures onto ``UpstreamError``.
public protocol UpstreamClient: Sendable {
    /// Sends one try and returns when the final response head has arrived.
    ///
    /// Cancelling the calling task cancels the transfer.
    /// - Throws: ``UpstreamError`` when no valid head arrived.
    func execute(_ request: UpstreamRequest) async throws -> UpstreamResponse

    /// The client that sends every try made with `key`, always the same one: for an upstream whose connections are
    /// counted (`max_connections`), so that all of them live in one connection pool. A client that spreads tries
    /// over several pools returns one of them; a client with one pool returns itself.
    func onePool(for key: Int) -> any UpstreamClient
}

extension UpstreamClient {
    public func onePool(for key: Int) -> any UpstreamClient { self }
}
