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

        public var description: String { self.base.rawValue }
    }

    public var code: Code
    /// The transport's own text, for logs.
    public var detail: String
    /// Whether anything of the request may have reached the upstream.
    public var requestMayHaveBeenSent: Bool {
        self.code != .connectFailed && self.code != .dnsFailed
    }

    public init(_ code: Code, detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public var description: String {
        self.detail.isEmpty ? self.code.description : "\(self.code): \(self.detail)"
    }

    /// The canonical code and status a client sees when this was the last try's failure.
    public var canonicalCode: ErrorCode {
        switch self.code {
        case .timedOut: return .upstreamTimeout
        case .cancelled: return .internalError
        default: return .upstreamUnavailable
        }
    }
}
