import NIOConcurrencyHelpers

/// Whether the gateway should receive traffic (`/readyz`): ready once the proxy listener is bound, not ready again
/// from the moment it starts draining.
public final class GatewayHealth: Sendable {
    private enum Phase {
        case starting
        case serving
        case draining
    }

    private let phase = NIOLockedValueBox(Phase.starting)

    public init() {}

    public var isReady: Bool { self.phase.withLockedValue { $0 == .serving } }

    func listenerBound() {
        self.phase.withLockedValue { if $0 == .starting { $0 = .serving } }
    }

    func drainingStarted() {
        self.phase.withLockedValue { $0 = .draining }
    }
}
