import CurlTransport
import ErrorNormalization
public import GatewayConfig
public import GatewayCore
import GatewayHTTPServer
public import Logging
import Metrics
public import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Builds the whole gateway from a config file and runs it under one `ServiceGroup`: the curl engines (one per event
/// loop of the proxy listener), the rate-limit store, the admin listener, the config reloader and the proxy listener.
/// The group starts them together and stops them one by one in the reverse of that order, so the proxy listener drains
/// first and the engines stop last.
public struct GatewayApplication: Sendable {
    /// What `gateway serve` needs to start.
    public struct Options: Sendable {
        public var configPath: String
        public var environment: [String: String]
        /// Overrides `server.listen` (tests bind port 0).
        public var listenOverride: ListenAddress?
        public var adminListenOverride: ListenAddress?
        /// Where access-log lines go when `server.access_log` is on (tests capture them in memory).
        public var accessLog: AccessLog
        /// The proxy listener's event loops (default: `MultiThreadedEventLoopGroup.singleton`); the admin listener
        /// always has its own.
        public var proxyEventLoopGroup: (any EventLoopGroup)?

        public init(
            configPath: String, environment: [String: String], listenOverride: ListenAddress? = nil,
            adminListenOverride: ListenAddress? = nil, accessLog: AccessLog = .standardOutput,
            proxyEventLoopGroup: (any EventLoopGroup)? = nil
        ) {
            self.proxyEventLoopGroup = proxyEventLoopGroup
            self.configPath = configPath
            self.environment = environment
            self.listenOverride = listenOverride
            self.adminListenOverride = adminListenOverride
            self.accessLog = accessLog
        }
    }

    /// How a run ended, for the process's exit code.
    public enum Outcome: Sendable, Equatable {
        /// Every in-flight request finished within `drain_timeout`.
        case drained
        /// The drain deadline passed and remaining connections were closed.
        case drainTimedOut
    }

    private let options: Options
    private let logger: Logger
    /// Reports the bound addresses once both listeners are up (tests read the ports from here).
    public let listeners = ListenerAddresses()

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// The admin listener's one thread, shared by every run in the process (like `.singleton`, never shut down).
    static let adminEventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// The config loader with the dialect names this build knows.
    public static func configLoader(environment: [String: String]) -> ConfigLoader {
        ConfigLoader(environment: environment, knownDialects: Set(ErrorNormalizer.catalog.map(\.name)))
    }

    /// Loads the config, binds, serves until SIGTERM/SIGINT (or cancellation), then drains.
    /// - Throws: `ConfigError` for a bad config (nothing is bound then), or a bind error.
    public func run() async throws -> Outcome {
        let loader = Self.configLoader(environment: self.options.environment)
        var configuration = try loader.load(path: self.options.configPath)
        self.applyOverrides(to: &configuration)

        let registry = PrometheusCollectorRegistry()
        var prometheus = PrometheusMetricsFactory(registry: registry)
        prometheus.defaultDurationHistogramBuckets = GatewayMetrics.latencyBuckets
        let metrics = GatewayMetrics(factory: prometheus)
        let processMetrics = ProcessMetrics(factory: prometheus)
        let health = GatewayHealth()

        self.logger.info(
            "starting gateway",
            metadata: ["curl": "\(CurlEngine.versionDescription)", "config": "\(self.options.configPath)"])
        if !CurlEngine.hasAsynchDNS {
            self.logger.warning("libcurl lacks AsynchDNS: DNS lookups will block the engine thread")
        }

        let state = GatewayState(
            GatewaySnapshot(configuration: configuration, loadedAtUnixSeconds: DateHeader.unixSeconds()))
        metrics.configLoaded(unixSeconds: DateHeader.unixSeconds())
        let proxyEventLoopGroup = self.options.proxyEventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        let engine = PairedCurlEngines(group: proxyEventLoopGroup, logger: self.logger)
        let rateLimitStore = RateLimitStoreService(
            configuration: configuration.rateLimitStore, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            metrics: metrics, logger: self.logger)
        let tlsContext = try configuration.server.tls.map {
            try ServerTLSContext(certificatePath: $0.certificate, privateKeyPath: $0.privateKey)
        }
        let logger = self.logger
        let reloader = ConfigReloader(
            path: self.options.configPath, loader: loader, state: state, metrics: metrics, logger: self.logger,
            applyOverrides: { self.applyOverrides(to: &$0) },
            didReload: {
                // Re-read the certificate so a rotated one takes effect for new connections. An unreadable one
                // keeps the old context (turning TLS on or off needs a restart).
                if let tlsContext, let tls = $0.server.tls {
                    do {
                        try tlsContext.reload(certificatePath: tls.certificate, privateKeyPath: tls.privateKey)
                    } catch {
                        logger.error(
                            "TLS certificate not reloaded; the previous one stays", metadata: ["error": "\(error)"])
                    }
                }
            })

        let proxy = ProxyResponder(
            state: state, upstreamClient: engine,
            rateLimits: RateLimitGate(store: rateLimitStore.store, metrics: metrics), metrics: metrics,
            logger: self.logger,
            scheme: configuration.server.tls == nil ? "http" : "https", accessLog: self.options.accessLog,
            quotaShield: QuotaShieldGate(store: rateLimitStore.quotaShieldStore, metrics: metrics))
        if configuration.server.tracing?.otlpEndpoint != nil {
            self.logger.warning(
                """
                server.tracing.otlp_endpoint is set, but this build does not export spans (README, "Trace context"): \
                trace context is propagated upstream and the trace id is in the access log
                """)
        }
        let server = configuration.server
        let proxyServer = HTTPServer(
            configuration: HTTPServerConfiguration(
                host: server.listen.host, port: server.listen.port, maxHeaderBytes: server.maxHeaderBytes,
                maxHeaderCount: server.maxHeaderCount, maxBodyBytes: server.maxBodyBytes,
                idleTimeout: server.idleTimeout, requestHeaderTimeout: server.requestHeaderTimeout,
                requestBodyTimeout: server.requestBodyTimeout,
                minRequestBodyBytesPerSecond: server.minRequestBodyBytesPerSecond,
                tlsHandshakeTimeout: server.tls?.handshakeTimeout ?? .seconds(10),
                maxConnections: server.maxConnections, tls: tlsContext),
            responder: proxy,
            eventLoopGroup: proxyEventLoopGroup,
            logger: self.logger)
        let adminServer = HTTPServer(
            configuration: HTTPServerConfiguration(
                host: server.adminListen.host, port: server.adminListen.port, maxHeaderBytes: 16 * 1024,
                maxHeaderCount: 100, maxBodyBytes: 64 * 1024, idleTimeout: .seconds(60),
                requestHeaderTimeout: .seconds(10), maxConnections: 256),
            responder: AdminResponder(
                registry: registry, health: health, processMetrics: processMetrics,
                reload: { await reloader.reload() }),
            // Its own event loop, so the admin listener answers even when the proxy's loops are saturated.
            eventLoopGroup: Self.adminEventLoopGroup,
            logger: self.logger)
        let proxyService = DrainingListener(
            server: proxyServer, drainTimeout: server.drainTimeout, health: health, logger: self.logger)

        // The group starts every service at once (it does not wait for one to be up before the next) and, on
        // shutdown, stops them one by one from the last: the proxy drains first while the admin listener still
        // answers (`/readyz` says 503 meanwhile); the reloader, the admin listener and the rate-limit store follow,
        // and the engines stop last, once no request can use them.
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: engine),
                    .init(service: rateLimitStore),
                    .init(service: adminServer),
                    .init(service: reloader),
                    .init(service: proxyService),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: self.logger))

        return try await withThrowingDiscardingTaskGroup { tasks in
            tasks.addTask {
                let proxyAddress = try await proxyServer.localAddress()
                let adminAddress = try await adminServer.localAddress()
                self.listeners.publish(proxy: proxyAddress, admin: adminAddress)
            }
            try await group.run()
            return proxyService.outcome
        }
    }

    private func applyOverrides(to configuration: inout GatewayConfiguration) {
        if let listen = self.options.listenOverride { configuration.server.listen = listen }
        if let admin = self.options.adminListenOverride { configuration.server.adminListen = admin }
    }
}

/// The addresses the listeners bound, published once both are up.
public final class ListenerAddresses: Sendable {
    private let promise: EventLoopPromise<(proxy: SocketAddress, admin: SocketAddress)>

    init() {
        self.promise = MultiThreadedEventLoopGroup.singleton.any().makePromise()
    }

    deinit {
        self.promise.fail(CancellationError())
    }

    func publish(proxy: SocketAddress, admin: SocketAddress) {
        self.promise.succeed((proxy, admin))
    }

    /// The proxy and admin ports, once bound.
    public func ports() async throws -> (proxy: Int, admin: Int) {
        let addresses = try await self.promise.futureResult.get()
        return (addresses.proxy.port ?? 0, addresses.admin.port ?? 0)
    }
}

extension GatewayApplication {
    /// The config problems an error from ``run()`` carries, as `PATH:LINE:COLUMN: message` lines, or nil.
    public static func problems(of error: any Error) -> [String]? {
        (error as? ConfigError)?.problems.map(\.description)
    }
}
