import Foundation
import Gateway
import GatewayCore
import GatewayTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing
import VendorSimulator

#if canImport(Glibc)
import Glibc
#endif

/// The repository root, for the built executables and the scripts.
let opsPackageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A config with one route `/sim/` to a vendor simulator, and extra YAML appended to `server:` and `routes:`.
func opsConfig(
    simulatorPort: Int, server: String = "", extraRoutes: String = "", retryAttempts: Int = 2,
    listen: String = "127.0.0.1:0", admin: String = "127.0.0.1:0"
) -> String {
    """
    server:
      listen: \(listen)
      admin_listen: \(admin)
      drain_timeout: 5s
    \(server.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    upstreams:
      sim:
        url: http://127.0.0.1:\(simulatorPort)
        timeouts: { connect: 1s, request: 20s }
        retry: { attempts: \(retryAttempts), backoff: { base: 1ms, max: 2ms } }
    routes:
      - name: sim
        path_prefix: /sim/
        strip_prefix: true
        upstream: sim
    \(extraRoutes.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

    """
}

/// Access-log lines captured in memory.
final class OpsLines: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    var accessLog: AccessLog {
        AccessLog { bytes in self.lines.withLockedValue { $0.append(String(decoding: bytes, as: UTF8.self)) } }
    }

    var all: [String] { self.lines.withLockedValue { $0 } }

    /// The lines parsed as JSON objects.
    var objects: [[String: Any]] {
        self.all.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }
}

/// A gateway running in this process, on ports picked by the system.
final class OpsGateway: Sendable {
    let directory: URL
    let configPath: String
    let proxyPort: Int
    let adminPort: Int
    private let task: Task<GatewayApplication.Outcome, any Error>

    private init(
        directory: URL, configPath: String, proxyPort: Int, adminPort: Int,
        task: Task<GatewayApplication.Outcome, any Error>
    ) {
        self.directory = directory
        self.configPath = configPath
        self.proxyPort = proxyPort
        self.adminPort = adminPort
        self.task = task
    }

    static func start(
        yaml: String, accessLog: AccessLog = AccessLog { _ in }, proxyEventLoopGroup: (any EventLoopGroup)? = nil
    ) async throws -> OpsGateway {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ops-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configPath = directory.appendingPathComponent("gateway.yaml").path
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let application = GatewayApplication(
            options: .init(
                configPath: configPath, environment: [:], accessLog: accessLog,
                proxyEventLoopGroup: proxyEventLoopGroup),
            logger: Logger(label: "ops-test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await application.run() }
        let ports = try await application.listeners.ports()
        return OpsGateway(
            directory: directory, configPath: configPath, proxyPort: ports.proxy, adminPort: ports.admin, task: task)
    }

    func writeConfig(_ yaml: String) throws {
        try yaml.write(toFile: self.configPath, atomically: true, encoding: .utf8)
    }

    /// Stops the gateway (cancellation) and removes its directory.
    func stop() async {
        self.task.cancel()
        _ = try? await self.task.value
        try? FileManager.default.removeItem(at: self.directory)
    }
}

/// Starts a gateway from `yaml`, runs `body` against it, then stops it, removes its directory and shuts `simulator`
/// down, whether `body` returned or threw: nothing of the test outlives it (a `defer { Task { … } }` would leave
/// the last test's gateway and files behind when the test process exits first).
func withOpsGateway(
    yaml: String, accessLog: AccessLog = AccessLog { _ in }, proxyEventLoopGroup: (any EventLoopGroup)? = nil,
    stopping simulator: VendorSimulator, _ body: (OpsGateway) async throws -> Void
) async throws {
    let gateway: OpsGateway
    do {
        gateway = try await OpsGateway.start(yaml: yaml, accessLog: accessLog, proxyEventLoopGroup: proxyEventLoopGroup)
    } catch {
        try? await simulator.shutdown()
        throw error
    }
    var failure: (any Error)?
    do {
        try await body(gateway)
    } catch {
        failure = error
    }
    await gateway.stop()
    try? await simulator.shutdown()
    if let failure { throw failure }
}

/// One `GET` on a fresh connection (`Connection: close`).
func opsRequest(
    port: Int, _ target: String, headers: [(String, String)] = [], timeout: Duration = .seconds(15)
) async throws -> RawHTTPClient.Response {
    try await opsRequest(port: port, "GET", target, headers: headers, timeout: timeout)
}

/// One request on a fresh connection (`Connection: close`).
func opsRequest(
    port: Int, _ method: String, _ target: String, headers: [(String, String)] = [], body: String = "",
    timeout: Duration = .seconds(15)
) async throws -> RawHTTPClient.Response {
    let client = try await RawHTTPClient.connect(port: port)
    defer { Task { await client.close() } }
    var text = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.utf8.count)\r\n" }
    text += "\r\n" + body
    try await client.send(text)
    return try await client.readResponse(timeout: timeout, headRequest: method == "HEAD")
}

/// One sample of the Prometheus text format.
struct OpsSample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// Parses the Prometheus text exposition format (the subset swift-prometheus writes).
func opsParseMetrics(_ text: String) -> [OpsSample] {
    var samples: [OpsSample] = []
    for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            continue
        }
        let series = line[..<space]
        var labels: [String: String] = [:]
        let name: String
        if let brace = series.firstIndex(of: "{") {
            name = String(series[..<brace])
            var rest = series[series.index(after: brace)...].dropLast()  // the closing brace
            while let equals = rest.firstIndex(of: "=") {
                let key = String(rest[..<equals]).trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                rest = rest[rest.index(equals, offsetBy: 2)...]  // past ="
                guard let quote = rest.firstIndex(of: "\"") else { break }
                labels[key] = String(rest[..<quote])
                rest = rest[rest.index(after: quote)...]
            }
        } else {
            name = String(series)
        }
        samples.append(OpsSample(name: name, labels: labels, value: value))
    }
    return samples
}

extension Array where Element == OpsSample {
    /// The value of the one series with exactly these labels (0 when absent).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        self.first { $0.name == name && $0.labels == labels }?.value ?? 0
    }

    func series(_ name: String) -> [OpsSample] { self.filter { $0.name == name } }
}

func opsScrape(adminPort: Int) async throws -> [OpsSample] {
    let response = try await opsRequest(port: adminPort, "/metrics")
    #expect(response.status == 200)
    return opsParseMetrics(response.bodyText)
}

/// A blocking `GET` on its own thread, independent of every event loop and of the cooperative pool: the probe that
/// shows the admin listener answers while the proxy's loops are blocked.
func opsBlockingGet(port: Int, path: String, timeout: Duration) async -> (status: Int, elapsed: Duration)? {
    await withCheckedContinuation { continuation in
        let thread = Thread {
            let start = ContinuousClock.now
            let status = opsBlockingStatus(port: port, path: path, timeoutSeconds: Int(timeout.components.seconds))
            continuation.resume(returning: status.map { ($0, ContinuousClock.now - start) })
        }
        thread.start()
    }
}

private func opsBlockingStatus(port: Int, path: String, timeoutSeconds: Int) -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: max(1, timeoutSeconds), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    guard send(fd, request, request.count, 0) == request.count else { return nil }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while received.count < 12 {
        let count = recv(fd, &chunk, chunk.count, 0)
        if count <= 0 { break }
        received += chunk[0..<count]
    }
    guard received.count >= 12 else { return nil }
    return Int(String(decoding: received[9..<12], as: UTF8.self))
}

/// A free loopback TCP port (bound and released; a tiny race, acceptable for subprocess tests).
func opsFreePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            _ = bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
