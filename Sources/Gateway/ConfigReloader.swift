import GatewayConfig
import GatewayCore
import Logging
import ServiceLifecycle
import UnixSignals

/// Re-reads the config file on SIGHUP (and on `POST /reload`): a valid file is swapped in atomically, an invalid
/// one is logged with its problems and counted, and the old config stays in force.
final class ConfigReloader: Service, Sendable {
    private let path: String
    private let loader: ConfigLoader
    private let state: GatewayState
    private let metrics: GatewayMetrics
    private let logger: Logger
    private let applyOverrides: @Sendable (inout GatewayConfiguration) -> Void

    init(
        path: String, loader: ConfigLoader, state: GatewayState, metrics: GatewayMetrics, logger: Logger,
        applyOverrides: @escaping @Sendable (inout GatewayConfiguration) -> Void
    ) {
        self.path = path
        self.loader = loader
        self.state = state
        self.metrics = metrics
        self.logger = logger
        self.applyOverrides = applyOverrides
    }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            _ = await self.reload()
        }
    }

    /// Reloads now. Returns the problems when the file was rejected, nil when the new config is in force.
    func reload() async -> [String]? {
        do {
            var configuration = try self.loader.load(path: self.path)
            self.applyOverrides(&configuration)
            let old = self.state.snapshot.configuration
            if old.server.listen != configuration.server.listen || old.server.adminListen != configuration.server.adminListen {
                self.logger.warning("listener addresses changed: they take effect after a restart")
            }
            if old.rateLimitStore != configuration.rateLimitStore {
                self.logger.warning("rate_limit_store changed: it takes effect after a restart")
            }
            let now = DateHeader.unixSeconds()
            self.state.replace(with: GatewaySnapshot(
                configuration: configuration, loadedAtUnixSeconds: now, previous: self.state.snapshot))
            self.metrics.configReloaded(success: true, unixSeconds: now)
            self.logger.notice("configuration reloaded", metadata: ["config": "\(self.path)"])
            return nil
        } catch {
            let problems = error.problems.map(\.description)
            self.metrics.configReloaded(success: false, unixSeconds: 0)
            self.logger.error(
                "configuration rejected; the previous one stays in force",
                metadata: ["problems": .array(problems.map { .string($0) })])
            return problems
        }
    }
}
