import GatewayCore
import NIOConcurrencyHelpers

/// One loaded configuration with everything derived from it that requests need (a route table, …).
///
/// Immutable: a reload builds a new snapshot and swaps it in; requests in flight keep the one they started with.
final class GatewaySnapshot: Sendable {
    let configuration: GatewayConfiguration
    let routeTable: RouteTable
    /// Retry budgets, breakers and in-flight counts, carried over from the previous snapshot where they fit.
    let runtimes: UpstreamRuntimes
    /// Rate-limit policies by name.
    let policies: [String: RateLimitPolicy]
    /// Resolves `client_ip` keys through `server.trusted_proxies`.
    let keyResolver: RateLimitKeyResolver
    /// Unix time of the load, for `gateway_config_last_reload_success_timestamp_seconds`.
    let loadedAtUnixSeconds: Int

    init(configuration: GatewayConfiguration, loadedAtUnixSeconds: Int, previous: GatewaySnapshot? = nil) {
        self.configuration = configuration
        self.routeTable = RouteTable(routes: configuration.routes)
        self.runtimes = UpstreamRuntimes(
            upstreams: configuration.upstreams, previous: previous?.runtimes, now: .now)
        self.policies = Dictionary(
            configuration.rateLimits.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.keyResolver = RateLimitKeyResolver(trustedProxies: configuration.server.trustedProxies)
        self.loadedAtUnixSeconds = loadedAtUnixSeconds
    }
}

/// The configuration in force, swapped atomically on reload.
final class GatewayState: Sendable {
    private let current: NIOLockedValueBox<GatewaySnapshot>

    init(_ snapshot: GatewaySnapshot) {
        self.current = NIOLockedValueBox(snapshot)
    }

    var snapshot: GatewaySnapshot {
        self.current.withLockedValue { $0 }
    }

    func replace(with snapshot: GatewaySnapshot) {
        self.current.withLockedValue { $0 = snapshot }
    }
}
