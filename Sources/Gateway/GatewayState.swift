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
    /// Resolves `client_ip` keys through `server.trusted_proxies`.
    let keyResolver: RateLimitKeyResolver
    /// Unix time of the load, for `gateway_config_last_reload_success_timestamp_seconds`.
    let loadedAtUnixSeconds: Int
    /// Per route (by its index in ``routeTable``), what its requests need, resolved here once instead of looked up
    /// by name on every request; nil for a route whose upstream is missing (the config validator rules that out).
    let routePlans: [RoutePlan?]

    init(configuration: GatewayConfiguration, loadedAtUnixSeconds: Int, previous: GatewaySnapshot? = nil) {
        self.configuration = configuration
        self.routeTable = RouteTable(routes: configuration.routes)
        self.runtimes = UpstreamRuntimes(
            upstreams: configuration.upstreams, previous: previous?.runtimes, now: .now)
        self.keyResolver = RateLimitKeyResolver(trustedProxies: configuration.server.trustedProxies)
        self.loadedAtUnixSeconds = loadedAtUnixSeconds
        let runtimes = self.runtimes
        let policies = Dictionary(
            configuration.rateLimits.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.routePlans = self.routeTable.routes.map { route in
            guard let upstream = configuration.upstreams[route.upstream], let runtime = runtimes[route.upstream]
            else { return nil }
            return RoutePlan(
                route: route, upstream: upstream, runtime: runtime,
                policies: route.rateLimits.compactMap { policies[$0] })
        }
    }
}

/// One route of a snapshot with what its requests need: its upstream's configuration and runtime, and its
/// rate-limit policies in the route's order. Shared by reference, so a request holds it without copying the
/// configuration's values.
final class RoutePlan: Sendable {
    let route: RouteConfiguration
    let upstream: UpstreamConfiguration
    let runtime: UpstreamRuntime
    let policies: [RateLimitPolicy]

    init(
        route: RouteConfiguration, upstream: UpstreamConfiguration, runtime: UpstreamRuntime,
        policies: [RateLimitPolicy]
    ) {
        self.route = route
        self.upstream = upstream
        self.runtime = runtime
        self.policies = policies
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
