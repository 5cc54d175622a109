import CCurl
public import GatewayCore
public import Logging
public import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An upstream client: libcurl's multi interface driven by one dedicated thread (the gateway runs one per event loop).
///
/// One engine thread (named `curl-engine` unless configured otherwise) owns one `CURLM` and is the only thread that
/// touches a curl handle. Other threads push commands (`start`, `cancel`, `resume`, `shutdown`) onto a locked queue
/// and wake it through an eventfd; the thread drives curl with `curl_multi_socket_action` from an epoll set of the
/// sockets curl wants watched, so a turn costs what is ready, not every transfer in flight. Each transfer streams its
/// body with backpressure: a slow consumer pauses the curl transfer (the write callback answers
/// `CURL_WRITEFUNC_PAUSE`), so bodies are never buffered beyond the high watermark.
/// Response heads are validated before they are handed out (see `ResponseHeadParser`), and curl's failures are
/// mapped onto ``UpstreamError``.
///
/// Never FoundationNetworking: it wraps the same libcurl with a timer per callback, a copy per chunk, a linear
/// search for finished transfers and teardown races.
public final class CurlEngine: UpstreamClient, Service, @unchecked Sendable {
    // @unchecked Sendable: the configuration and logger are immutable; the command queue and the thread handle
    // are behind locks; the engine loop lives on its own thread only.

    /// Sizing of the connection pool and of body buffering.
    public struct Configuration: Sendable {
        /// Idle connections kept for reuse (`CURLMOPT_MAXCONNECTS`) at least; the pool grows with the transfers in
        /// flight, so it never has fewer places than transfers running (curl would close every connection that
        /// comes back beyond its size while new ones are being opened: a TCP, maybe TLS, handshake per request).
        /// A full TLS handshake costs as much CPU as about ten pooled requests.
        public var pooledConnections: Int = 256
        /// `CURLMOPT_MAX_HOST_CONNECTIONS`; 0 for no limit (transfers beyond it queue inside curl).
        public var maxConnectionsPerHost: Int = 0
        /// Body bytes buffered for a slow consumer before the transfer pauses.
        public var bodyHighWatermark: Int = 256 * 1024
        /// Buffered body bytes below which a paused transfer resumes.
        public var bodyLowWatermark: Int = 64 * 1024
        /// The engine thread's name (`top -H`, `/proc/<pid>/task/*/comm`; Linux keeps 15 bytes).
        public var threadName: String = "curl-engine"

        public init(
            pooledConnections: Int = 256,
            maxConnectionsPerHost: Int = 0,
            bodyHighWatermark: Int = 256 * 1024,
            bodyLowWatermark: Int = 64 * 1024,
            threadName: String = "curl-engine"
        ) {
            self.threadName = threadName
            self.pooledConnections = pooledConnections
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.bodyHighWatermark = bodyHighWatermark
            self.bodyLowWatermark = bodyLowWatermark
        }

        /// The watermarks in chunks, as the body stream counts: curl delivers at most 16 KiB per write callback.
        var chunkWatermarks: (low: Int, high: Int) {
            let chunk = Int(CURL_MAX_WRITE_SIZE)
            let high = max(2, self.bodyHighWatermark / chunk)
            let low = max(1, min(high - 1, self.bodyLowWatermark / chunk))
            return (low, high)
        }
    }

    private let configuration: Configuration
    private let logger: Logger
    private let queue: CommandQueue
    private let thread = Mutex<pthread_t?>(nil)

    /// `curl_global_init` (once, idempotent) and `SIGPIPE` ignored. Call it first thing in `main`, before any other
    /// thread starts; the engine's initializer calls it too, for tests.
    public static func globalInit() {
        _ = Self.globalInitOnce
    }

    private static let globalInitOnce: Void = {
        _ = curl_global_init(CCURL_GLOBAL_ALL)
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    /// A one-line summary of the linked libcurl (version, TLS library, features) for the startup log.
    public static var versionDescription: String {
        Self.globalInit()
        guard let info = curl_version_info(CURLversion(CCURL_VERSION_NOW)) else { return "libcurl (unknown)" }
        let version = info.pointee.version.map { String(cString: $0) } ?? "?"
        let ssl = info.pointee.ssl_version.map { String(cString: $0) } ?? "no TLS"
        let features = info.pointee.features
        var flags: [String] = []
        if features & CCURL_VERSION_ASYNCHDNS != 0 { flags.append("AsynchDNS") }
        if features & CCURL_VERSION_THREADSAFE != 0 { flags.append("threadsafe") }
        return "libcurl \(version) (\(ssl)) \(flags.joined(separator: " "))"
    }

    /// How many CPUs this process may run on (its affinity mask, which `taskset` and cpusets narrow), or nil when the
    /// system does not say. A caller that runs one engine per event loop runs no more engines than this.
    public static var allowedCPUCount: Int? {
        let count = Int(ccurl_allowed_cpu_count())
        return count > 0 ? count : nil
    }

    /// Whether name resolution runs off the engine thread; without it a slow DNS server stalls every transfer.
    public static var hasAsynchDNS: Bool {
        Self.globalInit()
        guard let info = curl_version_info(CURLversion(CCURL_VERSION_NOW)) else { return false }
        return info.pointee.features & CCURL_VERSION_ASYNCHDNS != 0
    }

    public init(configuration: Configuration = .init(), logger: Logger) {
        Self.globalInit()
        self.configuration = configuration
        self.logger = logger
        guard let queue = CommandQueue() else {
            fatalError("curl_multi_init failed: libcurl is unusable")
        }
        self.queue = queue
    }

    deinit {
        // Dropped without `shutdown()`: stop the thread anyway (it holds only the queue) and let it go unjoined.
        if case .wait = self.queue.beginShutdown(), let handle = self.thread.withLock({ $0 }) {
            _ = pthread_detach(handle)
        }
    }

    /// Starts the engine thread; idempotent. ``run()`` calls it: the engine is a `Service`, started with the others
    /// (before the listener), never lazily by a request.
    public func start() throws {
        guard self.queue.beginRunning() else { return }
        let queue = self.queue
        let configuration = self.configuration
        let logger = self.logger
        let body = ThreadBody {
            configuration.threadName.withCString { ccurl_set_thread_name($0) }
            EngineLoop(queue: queue, configuration: configuration, logger: logger).run()
        }
        let argument = Unmanaged.passRetained(body).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(
            &handle,
            nil,
            { argument in
                let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
                body.run()
                return nil
            },
            argument
        )
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(argument).release()
            _ = self.queue.engineStopped()
            throw UpstreamError(.overloaded, detail: "cannot start the curl engine thread (error \(result))")
        }
        self.thread.withLock { $0 = handle }
        self.logger.debug("curl engine started", metadata: ["curl.version": "\(Self.versionDescription)"])
    }

    /// Service: starts the engine, waits for graceful shutdown (or cancellation), then shuts the engine down.
    public func run() async throws {
        try self.start()
        try? await gracefulShutdown()
        await self.shutdown()
    }

    /// Stops the engine: transfers in flight fail with ``UpstreamError/Code/cancelled`` (their body streams throw),
    /// new ones are refused, and the thread is joined.
    public func shutdown() async {
        switch self.queue.beginShutdown() {
        case .wait:
            await self.queue.waitUntilStopped()
        case .none:
            break
        }
        if let handle = self.thread.withLock({ state -> pthread_t? in
            defer { state = nil }
            return state
        }) {
            // The loop has returned; the thread is only unwinding, so this join is immediate.
            _ = pthread_join(handle, nil)
        }
    }

    /// Sends one try and returns when the final response head has arrived and was valid.
    ///
    /// A try sent before ``start()`` waits in the command queue until the engine runs; one sent after
    /// ``shutdown()`` fails with ``UpstreamError/Code/cancelled``.
    ///
    /// Cancelling the calling task before the head cancels the transfer and throws `.cancelled`; after the head,
    /// dropping or cancelling the body stream cancels it.
    /// - Throws: ``UpstreamError``.
    public func execute(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let transfer = Transfer(request: request, queue: self.queue, watermarks: self.configuration.chunkWatermarks)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                transfer.start(continuation)
            }
        } onCancel: {
            transfer.taskCancelled()
        }
    }
}

/// Carries the engine thread's work across `pthread_create`.
private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void

    init(_ run: @escaping @Sendable () -> Void) {
        self.run = run
    }
}
