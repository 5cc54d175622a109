import GatewayCore
import NIOConcurrencyHelpers

/// The state one upstream keeps across requests: its retry budget, its circuit breaker, its requests in flight.
///
/// Kept across reloads while the settings it derives from do not change, so a reload neither resets a budget nor
/// closes an open circuit.
final class UpstreamRuntime: Sendable {
    let budget: SharedRetryBudget
    let breaker: SharedCircuitBreaker?
    private let inFlight = NIOLockedValueBox(0)
    let maxInFlight: Int
    /// The settings this runtime was made for.
    let retry: RetryConfiguration
    let breakerConfiguration: CircuitBreakerConfiguration?
    /// `max_connections`, when the upstream sets it.
    let connections: UpstreamConnectionSlots?
    /// Which of the client's connection pools carries this upstream's tries when its connections are counted (the
    /// same for every runtime of one upstream name in this process, so a reload keeps the pool).
    private let poolKey: Int

    init(upstream: UpstreamConfiguration, now: ContinuousClock.Instant) {
        self.retry = upstream.retry
        self.breakerConfiguration = upstream.circuitBreaker
        self.budget = SharedRetryBudget(configuration: upstream.retry, now: now)
        self.breaker = upstream.circuitBreaker.map { SharedCircuitBreaker(configuration: $0) }
        self.maxInFlight = upstream.maxInFlight
        self.connections = upstream.maxConnections.map { UpstreamConnectionSlots(limit: $0) }
        self.poolKey = upstream.name.hashValue
    }

    /// Whether this runtime still fits `upstream` after a reload.
    func fits(_ upstream: UpstreamConfiguration) -> Bool {
        self.retry == upstream.retry && self.breakerConfiguration == upstream.circuitBreaker
            && self.maxInFlight == upstream.maxInFlight && self.connections?.limit == upstream.maxConnections
    }

    /// Sends one try, within a connection slot when the upstream has `max_connections`; such an upstream's tries all
    /// go through one of the client's pools, so the slots count every connection it has.
    func execute(_ request: UpstreamRequest, on client: any UpstreamClient) async throws -> UpstreamResponse {
        guard let connections = self.connections else { return try await client.execute(request) }
        return try await connections.execute(request, on: client.onePool(for: self.poolKey))
    }

    /// Takes a slot for a request; false when `max_in_flight` requests are already in flight.
    func enter() -> Bool {
        self.inFlight.withLockedValue { count in
            guard count < self.maxInFlight else { return false }
            count += 1
            return true
        }
    }

    func leave() {
        self.inFlight.withLockedValue { $0 -= 1 }
    }
}

/// The runtimes of every upstream of a snapshot, carried over from the previous snapshot where they still fit.
struct UpstreamRuntimes: Sendable {
    private let byName: [String: UpstreamRuntime]

    init(upstreams: [String: UpstreamConfiguration], previous: UpstreamRuntimes?, now: ContinuousClock.Instant) {
        var byName: [String: UpstreamRuntime] = [:]
        for (name, upstream) in upstreams {
            if let old = previous?.byName[name], old.fits(upstream) {
                byName[name] = old
            } else {
                byName[name] = UpstreamRuntime(upstream: upstream, now: now)
            }
        }
        self.byName = byName
    }

    subscript(name: String) -> UpstreamRuntime? { self.byName[name] }
}
