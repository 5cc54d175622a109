/// Why a try at an upstream produced no usable response.
///
/// The code set is bounded, so `description` is safe as a metric label; `detail` carries the transport's own text
/// for logs only (it may name hosts and must never reach a client).
public struct UpstreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A bounded classification of transport failures.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectFailed = "connect_failed"
            case dnsFailed = "dns_failed"
            case tlsFailed = "tls_failed"
            case timedOut = "timed_out"
            case connectionReset = "connection_reset"
            case gotNothing = "got_nothing"
            case protocolError = "protocol_error"
            case cancelled
            case overloaded
            case proxyRefused = "proxy_refused"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The TCP connect was refused or the host unreachable: the request never left.
        public static let connectFailed = Code(.connectFailed)
        /// The name did not resolve: the request never left.
        public static let dnsFailed = Code(.dnsFailed)
        /// The TLS handshake or certificate verification failed.
        public static let tlsFailed = Code(.tlsFailed)
        /// The connect, the head or the body did not arrive in time.
        public static let timedOut = Code(.timedOut)
        /// The connection broke (RST, EOF) before the response was complete.
        public static let connectionReset = Code(.connectionReset)
        /// The upstream closed the connection without sending anything.
        public static let gotNothing = Code(.gotNothing)
        /// The upstream spoke something that is not valid HTTP, or a head the gateway must not pass on.
        public static let protocolError = Code(.protocolError)
        /// The gateway gave up on the transfer (its client went away, or it shut down).
        public static let cancelled = Code(.cancelled)
        /// The transport refused to start another transfer.
        public static let overloaded = Code(.overloaded)
        /// The egress proxy refused to open the tunnel (407, 403, …): the request never reached the upstream.
        public static let proxyRefused = Code(.proxyRefused)

        public var description: String { self.base.rawValue }

        /// Every code, for tests and documentation.
        public static let all: [Code] = [
            .connectFailed, .dnsFailed, .tlsFailed, .timedOut, .connectionReset, .gotNothing, .protocolError,
            .cancelled, .overloaded, .proxyRefused,
        ]

        /// How the gateway treats this failure: the one table every decision reads (the retry policy, the circuit
        /// breaker, `gateway_upstream_requests_total{outcome}`, and the envelope of a try that was the last).
        ///
        /// | code | retried as (`retry_on`) | circuit breaker | metric `outcome` | canonical code |
        /// | --- | --- | --- | --- | --- |
        /// | `connect_failed` | `connect_failure` | failure | `connect_failure` | `upstream_unavailable` |
        /// | `dns_failed` | `connect_failure` | failure | `connect_failure` | `upstream_unavailable` |
        /// | `tls_failed` | never | failure | `tls_failure` | `upstream_unavailable` |
        /// | `timed_out` | `timeout` | failure | `timeout` | `upstream_timeout` |
        /// | `connection_reset` | `reset` | failure | `reset` | `upstream_unavailable` |
        /// | `got_nothing` | `reset` | failure | `reset` | `upstream_unavailable` |
        /// | `protocol_error` | never | failure | `protocol_error` | `upstream_unavailable` |
        /// | `cancelled` | never | neutral | `cancelled` | `internal_error` |
        /// | `overloaded` | never | neutral | `overloaded` | `upstream_unavailable` |
        /// | `proxy_refused` | never | failure | `proxy_refused` | `upstream_unavailable` |
        ///
        /// `cancelled` and `overloaded` are the gateway's own doing (its client went away, it shut down, it would
        /// not start another transfer): they say nothing about the upstream's health.
        public var handling: Handling {
            switch self.base {
            case .connectFailed, .dnsFailed:
                return Handling(.connectFailure, .failure, "connect_failure", .upstreamUnavailable)
            case .tlsFailed:
                return Handling(nil, .failure, "tls_failure", .upstreamUnavailable)
            case .timedOut:
                return Handling(.timeout, .failure, "timeout", .upstreamTimeout)
            case .connectionReset, .gotNothing:
                return Handling(.reset, .failure, "reset", .upstreamUnavailable)
            case .protocolError:
                return Handling(nil, .failure, "protocol_error", .upstreamUnavailable)
            case .cancelled:
                return Handling(nil, .neutral, "cancelled", .internalError)
            case .overloaded:
                return Handling(nil, .neutral, "overloaded", .upstreamUnavailable)
            case .proxyRefused:
                return Handling(nil, .failure, "proxy_refused", .upstreamUnavailable)
            }
        }
    }

    /// One row of ``Code/handling``.
    public struct Handling: Sendable, Hashable {
        /// The `retry_on` condition the failure falls under; nil when it is never retried.
        public var retryCondition: RetryCondition?
        /// What it tells the upstream's circuit breaker.
        public var breakerOutcome: CircuitBreaker.Outcome
        /// The `outcome` label of `gateway_upstream_requests_total` (a bounded set).
        public var metricLabel: String
        /// The canonical code a client sees when this was the last try's failure.
        public var canonicalCode: ErrorCode

        init(
            _ retryCondition: RetryCondition?, _ breakerOutcome: CircuitBreaker.Outcome, _ metricLabel: String,
            _ canonicalCode: ErrorCode
        ) {
            self.retryCondition = retryCondition
            self.breakerOutcome = breakerOutcome
            self.metricLabel = metricLabel
            self.canonicalCode = canonicalCode
        }
    }

    public var code: Code
    /// The transport's own text, for logs.
    public var detail: String
    /// Whether anything of the request may have reached the upstream.
    public var requestMayHaveBeenSent: Bool {
        self.code != .connectFailed && self.code != .dnsFailed && self.code != .proxyRefused
    }

    /// The envelope's `detail` for this failure when the code's neutral sentence would mislead; nil otherwise. Never
    /// the transport's own text (a proxy's page, host names).
    public var clientDetail: String? {
        self.code == .proxyRefused ? "The egress proxy refused to connect the gateway to the upstream." : nil
    }

    public init(_ code: Code, detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public var description: String {
        self.detail.isEmpty ? self.code.description : "\(self.code): \(self.detail)"
    }

    /// The canonical code and status a client sees when this was the last try's failure (``Code/handling``).
    public var canonicalCode: ErrorCode { self.code.handling.canonicalCode }
}
