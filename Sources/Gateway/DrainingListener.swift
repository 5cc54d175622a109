import GatewayHTTPServer
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Runs the proxy listener and owns its shutdown (SPEC section 1): on graceful shutdown `/readyz` turns 503, the
/// listener stops accepting, idle connections close, and in-flight requests get `drain_timeout` to finish; past it
/// the remaining connections are closed and ``outcome`` says so.
final class DrainingListener: Service, Sendable {
    private let server: HTTPServer
    private let drainTimeout: Duration
    private let health: GatewayHealth
    private let logger: Logger
    private let timedOut = NIOLockedValueBox(false)

    init(server: HTTPServer, drainTimeout: Duration, health: GatewayHealth, logger: Logger) {
        self.server = server
        self.drainTimeout = drainTimeout
        self.health = health
        self.logger = logger
    }

    var outcome: GatewayApplication.Outcome {
        self.timedOut.withLockedValue { $0 } ? .drainTimedOut : .drained
    }

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await self.server.run()
            }
            group.addTask {
                _ = try await self.server.localAddress()
                self.health.listenerBound()
                // Sleeps until graceful shutdown starts (cancellation ends it when the listener stops first).
                try await gracefulShutdown()
                self.health.drainingStarted()
                self.logger.notice("draining", metadata: ["connections": "\(self.server.connectionCount)"])
                try await Task.sleep(for: self.drainTimeout)
                let remaining = self.server.connectionCount
                if remaining > 0 {
                    self.timedOut.withLockedValue { $0 = true }
                    self.logger.warning("drain timeout: closing connections", metadata: ["connections": "\(remaining)"])
                    self.server.closeAllConnections()
                }
            }
            // The listener ends when it has drained; the drain timer is then moot.
            try await group.next()
            group.cancelAll()
        }
    }
}
