public import CoreMetrics
import GatewayCore
import NIOConcurrencyHelpers

/// Every metric of SPEC section 6, declared once, created from an injected factory.
///
/// Labels are bounded: route and upstream *names* from the config, standard methods (anything else is `OTHER`),
/// status codes, and fixed outcome sets — never raw paths, keys or other client input. Handles are cached per
/// label set, so a request costs a dictionary lookup per metric, not a registry registration.
public final class GatewayMetrics: Sendable {
    /// What became of one try at an upstream (`gateway_upstream_requests_total{outcome}`).
    public enum UpstreamOutcome: String, Sendable {
        case response
        case connectFailure = "connect_failure"
        case timeout
        case reset
        case tlsFailure = "tls_failure"
    }

    private let factory: any MetricsFactory
    private let counters = NIOLockedValueBox<[CounterKey: Counter]>([:])
    private let timers = NIOLockedValueBox<[CounterKey: Timer]>([:])
    private let inflight: Meter
    private let configLastReload: Gauge
    private let rateLimitStoreDegraded: Gauge

    private struct CounterKey: Hashable {
        var name: String
        var labels: [String]
    }

    /// The standard methods kept as label values (RFC 9110 section 9 plus PATCH).
    private static let standardMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ]

    public init(factory: any MetricsFactory) {
        self.factory = factory
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

    /// A method as a label value.
    public static func methodLabel(_ method: String) -> String {
        Self.standardMethods.contains(method) ? method : "OTHER"
    }

    private func counter(_ name: String, _ labels: [(String, String)]) -> Counter {
        let key = CounterKey(name: name, labels: labels.map(\.1))
        return self.counters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: name, dimensions: labels, factory: self.factory)
            counters[key] = counter
            return counter
        }
    }

    private func timer(_ name: String, _ labels: [(String, String)]) -> Timer {
        let key = CounterKey(name: name, labels: labels.map(\.1))
        return self.timers.withLockedValue { timers in
            if let timer = timers[key] { return timer }
            let timer = Timer(label: name, dimensions: labels, factory: self.factory)
            timers[key] = timer
            return timer
        }
    }

    /// A request answered (by the upstream or the gateway).
    public func requestFinished(route: String, method: String, status: Int, duration: Duration) {
        self.counter(
            "gateway_requests_total",
            [("route", route), ("method", Self.methodLabel(method)), ("status", String(status))]
        ).increment()
        self.timer("gateway_request_duration_seconds", [("route", route)]).recordNanoseconds(duration.nanosecondsClamped)
    }

    /// One try at an upstream ended.
    public func upstreamTryFinished(upstream: String, outcome: UpstreamOutcome, duration: Duration) {
        self.counter("gateway_upstream_requests_total", [("upstream", upstream), ("outcome", outcome.rawValue)])
            .increment()
        self.timer("gateway_upstream_duration_seconds", [("upstream", upstream)]).recordNanoseconds(duration.nanosecondsClamped)
    }

    public func retried(upstream: String, reason: String) {
        self.counter("gateway_retries_total", [("upstream", upstream), ("reason", reason)]).increment()
    }

    public func rateLimitDecision(policy: String, allowed: Bool) {
        self.counter("gateway_ratelimit_decisions_total", [("policy", policy), ("decision", allowed ? "allowed" : "denied")])
            .increment()
    }

    public func errorNormalized(source: String, upstream: String, code: String) {
        self.counter("gateway_normalized_errors_total", [("source", source), ("upstream", upstream), ("code", code)])
            .increment()
    }

    public func requestStarted() { self.inflight.increment() }
    public func requestEnded() { self.inflight.decrement() }

    public func configReloaded(success: Bool, unixSeconds: Int) {
        self.counter("gateway_config_reloads_total", [("result", success ? "success" : "failure")]).increment()
        if success { self.configLastReload.record(unixSeconds) }
    }

    public func rateLimitStore(degraded: Bool) {
        self.rateLimitStoreDegraded.record(degraded ? 1 : 0)
    }
}
