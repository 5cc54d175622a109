public import CoreMetrics
public import GatewayCore
import NIOConcurrencyHelpers

/// Every metric of SPEC section 6, declared once, created from an injected factory.
///
/// Labels are bounded: route and upstream *names* from the config, standard methods (anything else is `OTHER`),
/// status codes, and fixed outcome sets — never raw paths, keys or other client input. Handles are cached per
/// label set, so a request costs a dictionary lookup per metric, not a registry registration.
public final class GatewayMetrics: Sendable {
    /// What became of one try at an upstream (`gateway_upstream_requests_total{outcome}`): `response`, or the
    /// failure's label from ``UpstreamError/Code/handling`` (`connect_failure`, `timeout`, `reset`, `tls_failure`,
    /// `protocol_error`, `cancelled`, `overloaded`).
    public enum UpstreamOutcome: Sendable {
        case response
        case failed(UpstreamError.Code)

        var label: String {
            switch self {
            case .response: return "response"
            case .failed(let code): return code.handling.metricLabel
            }
        }
    }

    private let requests: MetricFamily<Counter>
    private let requestDuration: MetricFamily<Timer>
    private let upstreamRequests: MetricFamily<Counter>
    private let upstreamDuration: MetricFamily<Timer>
    private let upstreamBodyErrors: MetricFamily<Counter>
    private let retries: MetricFamily<Counter>
    private let rateLimitDecisions: MetricFamily<Counter>
    private let normalizedErrors: MetricFamily<Counter>
    private let configReloads: MetricFamily<Counter>
    private let quotaShield: MetricFamily<Counter>
    private let inflight: Meter
    private let configLastReload: Gauge
    private let rateLimitStoreDegraded: Gauge

    /// The standard methods kept as label values (RFC 9110 section 9 plus PATCH).
    private static let standardMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ]

    public init(factory: any MetricsFactory) {
        func counters(_ name: String, _ labels: String...) -> MetricFamily<Counter> {
            MetricFamily(labelNames: labels) { Counter(label: name, dimensions: $0, factory: factory) }
        }
        func timers(_ name: String, _ labels: String...) -> MetricFamily<Timer> {
            MetricFamily(labelNames: labels) { Timer(label: name, dimensions: $0, factory: factory) }
        }
        self.requests = counters("gateway_requests_total", "route", "method", "status")
        self.requestDuration = timers("gateway_request_duration_seconds", "route")
        self.upstreamRequests = counters("gateway_upstream_requests_total", "upstream", "outcome")
        self.upstreamDuration = timers("gateway_upstream_duration_seconds", "upstream")
        self.upstreamBodyErrors = counters("gateway_upstream_body_errors_total", "upstream", "outcome")
        self.retries = counters("gateway_retries_total", "upstream", "reason")
        self.rateLimitDecisions = counters("gateway_ratelimit_decisions_total", "policy", "decision")
        self.normalizedErrors = counters("gateway_normalized_errors_total", "source", "upstream", "code")
        self.configReloads = counters("gateway_config_reloads_total", "result")
        self.quotaShield = counters("gateway_quota_shield_total", "upstream")
        self.inflight = Meter(label: "gateway_inflight_requests", dimensions: [], factory: factory)
        self.configLastReload = Gauge(
            label: "gateway_config_last_reload_success_timestamp_seconds", dimensions: [], factory: factory)
        self.rateLimitStoreDegraded = Gauge(label: "gateway_ratelimit_store_degraded", dimensions: [], factory: factory)
    }

    /// Histogram buckets for an API proxy: 1 ms to 30 s.
    public static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// Every status code's label, made once (a label per request would allocate a string).
    private static let statusLabels: [String] = (0..<600).map { String($0) }

    /// A status code as a label value.
    static func statusLabel(_ status: Int) -> String {
        Self.statusLabels.indices.contains(status) ? Self.statusLabels[status] : String(status)
    }

    /// A method as a label value.
    public static func methodLabel(_ method: String) -> String {
        Self.standardMethods.contains(method) ? method : "OTHER"
    }

    /// A request answered (by the upstream or the gateway).
    public func requestFinished(route: String, method: String, status: Int, duration: Duration) {
        self.requests.handle(route, Self.methodLabel(method), Self.statusLabel(status)).increment()
        self.requestDuration.handle(route).recordNanoseconds(duration.nanosecondsClamped)
    }

    /// One try at an upstream ended.
    public func upstreamTryFinished(upstream: String, outcome: UpstreamOutcome, duration: Duration) {
        self.upstreamRequests.handle(upstream, outcome.label).increment()
        self.upstreamDuration.handle(upstream).recordNanoseconds(duration.nanosecondsClamped)
    }

    /// An upstream error body broke while it was read for the normalizer (the try itself counted as a response).
    public func upstreamBodyFailed(upstream: String, code: UpstreamError.Code) {
        self.upstreamBodyErrors.handle(upstream, code.handling.metricLabel).increment()
    }

    public func retried(upstream: String, reason: String) {
        self.retries.handle(upstream, reason).increment()
    }

    public func rateLimitDecision(policy: String, allowed: Bool) {
        self.rateLimitDecisions.handle(policy, allowed ? "allowed" : "denied").increment()
    }

    public func errorNormalized(source: String, upstream: String, code: String) {
        self.normalizedErrors.handle(source, upstream, code).increment()
    }

    /// A request answered by the quota shield: the vendor's limit is spent, the upstream was not called.
    public func quotaShielded(upstream: String) {
        self.quotaShield.handle(upstream).increment()
    }

    public func requestStarted() { self.inflight.increment() }
    public func requestEnded() { self.inflight.decrement() }

    /// The config read at start-up is in force: the last-success timestamp is set, but it is not a reload, so
    /// `gateway_config_reloads_total` only gets its two series at zero (a scrape sees them before the first reload).
    public func configLoaded(unixSeconds: Int) {
        _ = self.configReloads.handle("success")
        _ = self.configReloads.handle("failure")
        self.configLastReload.record(unixSeconds)
    }

    /// A reload (SIGHUP or `POST /reload`) swapped a new config in, or was rejected.
    public func configReloaded(success: Bool, unixSeconds: Int) {
        self.configReloads.handle(success ? "success" : "failure").increment()
        if success { self.configLastReload.record(unixSeconds) }
    }

    public func rateLimitStore(degraded: Bool) {
        self.rateLimitStoreDegraded.record(degraded ? 1 : 0)
    }
}

/// One metric name with its label names, and the handle of each label-value set seen so far.
///
/// The values are the key (up to three, unused ones empty), so a lookup allocates nothing; the dimensions array is
/// built only the first time a set is seen. Each family has its own lock, so requests on different loops updating
/// different metrics do not contend.
private final class MetricFamily<Handle: AnyObject & Sendable>: Sendable {
    private struct Values: Hashable {
        var first: String
        var second: String
        var third: String
    }

    private let labelNames: [String]
    private let make: @Sendable ([(String, String)]) -> Handle
    private let handles = NIOLockedValueBox<[Values: Handle]>([:])

    init(labelNames: [String], make: @escaping @Sendable ([(String, String)]) -> Handle) {
        precondition(labelNames.count <= 3, "a metric family has at most three labels")
        self.labelNames = labelNames
        self.make = make
    }

    /// The handle for these label values, in the order of the label names.
    func handle(_ first: String, _ second: String = "", _ third: String = "") -> Handle {
        let values = Values(first: first, second: second, third: third)
        return self.handles.withLockedValue { handles in
            if let handle = handles[values] { return handle }
            let all = [first, second, third]
            let handle = self.make(Array(zip(self.labelNames, all.prefix(self.labelNames.count))))
            handles[values] = handle
            return handle
        }
    }
}
