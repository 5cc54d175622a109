public import NIOCore
import NIOHTTP1
public import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An upstream HTTP/1.1 server that answers like the five seed vendors, scriptable per request.
///
/// It is the upstream of the demo (`vendor-sim`) and of the gateway's end-to-end tests: retries,
/// normalization, rate-limit headers, streaming and transport failures can all be asked for in the URL.
///
/// ## URL scheme
///
/// `/{vendor}/...` with vendor one of `dokstamp`, `certifier`, `docyard`, `dokai`, `stemp`. Without control
/// parameters each vendor answers a few endpoints with realistic success bodies (see ``VendorEndpoints``),
/// and any other path with its own 404 shape. Control parameters (query, or `X-Sim-*` headers such as
/// `X-Sim-Fail-Status`) script the response; see ``usage`` for the full list, also printed by
/// `vendor-sim --help`. The error examples are enumerated in ``catalog``.
public struct VendorSimulator: Sendable {
    /// Where the simulator listens.
    public struct Configuration: Sendable {
        /// The address to bind.
        public var host: String = "127.0.0.1"
        /// The port to bind; 0 picks a free one (read it back from ``VendorSimulator/port``).
        public var port: Int = 0

        /// Creates a configuration.
        public init(host: String = "127.0.0.1", port: Int = 0) {
            self.host = host
            self.port = port
        }
    }

    /// The control parameters, as documented in `vendor-sim --help`.
    public static let usage = """
        URL scheme: /{vendor}/...
        vendor = dokstamp | certifier | docyard | dokai | stemp
          dokstamp   GET|POST /dokstamp/certificates
                     GET|DELETE /dokstamp/certificates/{uuid}
          certifier  GET|POST /certifier/credentials, GET .../credentials/{id}
          docyard    GET|POST /docyard/docks, GET /docyard/docks/{id}
          dokai      POST /dokai/v1/parse, POST /dokai/v1/validate,
                     GET /dokai/v1/usage (X-RateLimit-* on every response,
                     X-Quota-* on parse responses)
          stemp      GET|POST /stemp/v1/users, GET /stemp/v1/users/{id},
                     POST /stemp/oauth/token
          Other paths: the vendor's own 404 body.

        Control parameters: in the query, or as headers X-Sim-<Name> with '_'
        written '-' (X-Sim-Fail-Status); the query wins.
          error=NAME           the vendor's documented error NAME: status,
                               headers, exact body (NAME may be a status code)
          status=NNN           any status, with body=TEXT, content_type=TYPE
                               (with error=, overrides the example's status)
          fail=N&key=K         the first N requests with key K (default: method
                               and path) fail, then the request succeeds
            fail_status=503    status of the failures (the vendor's body)
            fail_retry_after=S adds Retry-After: S to the failures
            fail_mode=MODE     reset (RST before any byte) | close (FIN before
                               any byte) | garbage (non-HTTP bytes)
          delay=250ms          wait before the head (ms, s, m; bare number: ms)
          body_delay=100ms     wait between body chunks (or head and body)
          hang=true            never answer
          size=N               stream N bytes (KiB, MiB, GiB) in 64 KiB chunks
          chunked=true         with size: chunked encoding, not Content-Length
          echo=true            200 with the request as JSON (method, target,
                               path, query, headers, body or body_base64)
          ratelimit=exhausted  X-RateLimit-Limit 60, Remaining 0, Reset now+30;
                               alone: the vendor's rate_limited error (429)
          malformed=MODE       raw bytes, then close: double_content_length |
                               status_999 | bare_cr_header | obs_fold |
                               space_before_colon | many_headers |
                               unrequested_101 | early_hints
        """

    /// The 64 bytes a `size=N` body repeats: byte `i` of the body is `streamedBodyPattern[i % 64]`.
    public static let streamedBodyPattern: [UInt8] = Array(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n".utf8
    )

    private let channel: any Channel
    private let state: SimulatorState

    /// The port the simulator is bound to.
    public let port: Int

    /// Starts listening; returns once bound.
    /// - Parameters:
    ///   - configuration: the address to bind.
    ///   - eventLoopGroup: the loops serving the connections.
    /// - Throws: the bind error.
    public static func start(
        configuration: Configuration = .init(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> VendorSimulator {
        let state = SimulatorState()
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                state.connectionOpened(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    let decoder = HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)
                    try operations.addHandler(ByteToMessageHandler(decoder))
                    try operations.addHandler(HTTPResponseEncoder(), name: SimulatorConnectionHandler.encoderName)
                    try operations.addHandler(SimulatorConnectionHandler(state: state))
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        return VendorSimulator(channel: channel, state: state, port: channel.localAddress?.port ?? configuration.port)
    }

    /// Stops listening and closes every open connection (hanging ones included).
    public func shutdown() async throws {
        try? await self.channel.close()
        for connection in self.state.openConnections() {
            try? await connection.close()
        }
    }

    /// Requests received, all of them or those for one path (query excluded).
    public func requestCount(path: String? = nil) -> Int {
        self.state.requestCount(path: path)
    }

    /// TCP connections accepted so far.
    public func connectionCount() -> Int {
        self.state.connectionCount()
    }

    /// The last request received, of all or of one path (query excluded).
    public func lastRequest(path: String? = nil) -> RecordedRequest? {
        self.state.lastRequest(path: path)
    }

    /// The requests received, oldest first (the most recent ``SimulatorState/recordLimit`` of them).
    public func requests() -> [RecordedRequest] {
        self.state.requests()
    }

    /// Clears counters, recorded requests and scenario state (`fail=N` counts).
    public func reset() {
        self.state.reset()
    }

    /// The current Unix time in seconds.
    static func unixTime() -> Int {
        Int(time(nil))
    }
}

/// A request as the simulator received it.
public struct RecordedRequest: Sendable {
    /// The method, e.g. `GET`.
    public var method: String
    /// The raw request target: path and query as sent.
    public var target: String
    /// The header fields in the order received.
    public var headers: [(name: String, value: String)]
    /// The body (at most the first ``SimulatorState/bodyRecordLimit`` bytes).
    public var body: [UInt8]

    /// Creates a recorded request.
    public init(method: String, target: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// The target's path, without the query.
    public var path: String {
        Self.split(target: self.target).path
    }

    /// The first value of a header (case-insensitive name).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return self.headers.first(where: { $0.name.lowercased() == lower })?.value
    }

    /// Splits a request target into path and query (without `?`).
    static func split(target: String) -> (path: String, query: String?) {
        guard let mark = target.firstIndex(of: "?") else { return (target, nil) }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }
}

/// What the simulator remembers across connections: counters, recorded requests, `fail=N` counts and the
/// open connections. Shared by every connection's handler, on any event loop, hence the mutex; nothing is
/// done while it is held.
final class SimulatorState: Sendable {
    /// At most this many requests are kept for ``VendorSimulator/requests()`` (counts stay exact).
    static let recordLimit = 10_000
    /// At most this many body bytes are kept per request.
    static let bodyRecordLimit = 4 << 20

    private struct Store {
        var recorded: [RecordedRequest] = []
        var total = 0
        var byPath: [String: Int] = [:]
        var connections = 0
        var failures: [String: Int] = [:]
        var open: [ObjectIdentifier: any Channel] = [:]
    }

    private let store = Mutex(Store())

    func connectionOpened(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.store.withLock {
            $0.connections += 1
            $0.open[id] = channel
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.store.withLock { $0.open.removeValue(forKey: id) }
        }
    }

    func openConnections() -> [any Channel] {
        self.store.withLock { Array($0.open.values) }
    }

    func record(_ request: RecordedRequest) {
        let path = request.path
        self.store.withLock {
            $0.total += 1
            $0.byPath[path, default: 0] += 1
            $0.recorded.append(request)
            if $0.recorded.count > Self.recordLimit {
                $0.recorded.removeFirst($0.recorded.count - Self.recordLimit)
            }
        }
    }

    /// Counts one more request for a `fail=N` key and returns its ordinal (1 for the first).
    func nextFailureOrdinal(key: String) -> Int {
        self.store.withLock {
            $0.failures[key, default: 0] += 1
            return $0.failures[key]!
        }
    }

    func requestCount(path: String?) -> Int {
        self.store.withLock { store in
            guard let path else { return store.total }
            return store.byPath[path] ?? 0
        }
    }

    func connectionCount() -> Int {
        self.store.withLock { $0.connections }
    }

    func lastRequest(path: String?) -> RecordedRequest? {
        self.store.withLock { store in
            guard let path else { return store.recorded.last }
            return store.recorded.last(where: { $0.path == path })
        }
    }

    func requests() -> [RecordedRequest] {
        self.store.withLock { $0.recorded }
    }

    func reset() {
        self.store.withLock {
            $0.recorded = []
            $0.total = 0
            $0.byPath = [:]
            $0.connections = 0
            $0.failures = [:]
        }
    }
}
