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
    private let didReload: @Sendable (GatewayConfiguration) -> Void

    /// - Parameters:
    ///   - applyOverrides: adjusts a freshly loaded config (command-line overrides of the listeners).
    ///   - didReload: called with each config that was swapped in (certificate rotation).
    init(
        path: String, loader: ConfigLoader, state: GatewayState, metrics: GatewayMetrics, logger: Logger,
        applyOverrides: @escaping @Sendable (inout GatewayConfiguration) -> Void,
        didReload: @escaping @Sendable (GatewayConfiguration) -> Void = { _ in }
    ) {
        self.path = path
        self.loader = loader
        self.state = state
        self.metrics = metrics
        self.logger = logger
        self.applyOverrides = applyOverrides
        self.didReload = didReload
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
            if old.server.listen != configuration.server.listen
                || old.server.adminListen != configuration.server.adminListen
            {
                self.logger.warning("listener addresses changed: they take effect after a restart")
            }
            if old.rateLimitStore != configuration.rateLimitStore {
                self.logger.warning("rate_limit_store changed: it takes effect after a restart")
            }
            let now = DateHeader.unixSeconds()
            self.state.replace(
                with: GatewaySnapshot(
                    configuration: configuration, loadedAtUnixSeconds: now, previous: self.state.snapshot))
            self.metrics.configReloaded(success: true, unixSeconds: now)
            self.didReload(configuration)
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
