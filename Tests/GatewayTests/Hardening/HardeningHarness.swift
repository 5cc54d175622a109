import Foundation
import Gateway
import GatewayCore
import Logging

/// Runs the real gateway (`GatewayApplication`, the whole `ServiceGroup`) on 127.0.0.1:0 in front of upstreams the
/// test chose, for the duration of `body`, then cancels it.
///
/// - Parameters:
///   - upstreams: name → base URL; each gets the route `/{name}/` with `strip_prefix: true`, one try (no
///     retries, so upstream request counts are exact) and short timeouts.
///   - timeouts: every upstream's `timeouts:` (flow style).
///   - upstreamExtra: YAML lines added inside every upstream (indented 4 spaces).
///   - serverExtra: YAML lines added inside `server:` (indented 2 spaces).
func withHardenedGateway<T: Sendable>(
    upstreams: [String: String],
    timeouts: String = "{ connect: 1s, per_try: 2s, request: 3s, idle: 2s }",
    upstreamExtra: [String] = [],
    serverExtra: [String] = [],
    configDirectory: URL? = nil,
    _ body: @Sendable (_ port: Int, _ configPath: String) async throws -> T
) async throws -> T {
    let directory =
        configDirectory
        ?? FileManager.default.temporaryDirectory
        .appendingPathComponent("hardening-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    // A directory made here is removed here; one passed in belongs to the caller.
    defer { if configDirectory == nil { try? FileManager.default.removeItem(at: directory) } }
    let path = directory.appendingPathComponent("gateway.yaml").path
    var yaml = ["server:", "  listen: 127.0.0.1:0", "  admin_listen: 127.0.0.1:0", "  access_log: false"]
    yaml += serverExtra.map { "  " + $0 }
    yaml += ["upstreams:"]
    for (name, url) in upstreams.sorted(by: { $0.key < $1.key }) {
        yaml += [
            "  \(name):", "    url: \(url)",
            "    timeouts: \(timeouts)",
            "    retry: { attempts: 1 }",
        ]
        yaml += upstreamExtra.map { "    " + $0 }
    }
    yaml += ["routes:"]
    for name in upstreams.keys.sorted() {
        yaml += ["  - path_prefix: /\(name)/", "    strip_prefix: true", "    upstream: \(name)"]
    }
    try (yaml.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)

    var logger = Logger(label: "hardening")
    logger.logLevel = .critical
    let application = GatewayApplication(
        options: .init(
            configPath: path, environment: [:], listenOverride: .init(host: "127.0.0.1", port: 0),
            adminListenOverride: .init(host: "127.0.0.1", port: 0)),
        logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { _ = try await application.run() }
        let port = try await application.listeners.ports().proxy
        defer { group.cancelAll() }
        return try await body(port, path)
    }
}
