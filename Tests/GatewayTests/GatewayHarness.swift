import Foundation
import Gateway
import GatewayCore
import GatewayTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import VendorSimulator

/// A gateway running in-process on 127.0.0.1 port 0, for the duration of a test body.
struct RunningGateway: Sendable {
    let proxyPort: Int
    let adminPort: Int
    /// The config file the gateway was started from (tests may rewrite it and `POST /reload`).
    let configPath: String

    /// Sends one raw request on a fresh connection and reads one response.
    func send(_ raw: String, timeout: Duration = .seconds(10), headRequest: Bool = false) async throws
        -> RawHTTPClient.Response
    {
        try await withClient(port: self.proxyPort) { client in
            try await client.send(raw)
            return try await client.readResponse(timeout: timeout, headRequest: headRequest)
        }
    }

    /// `METHOD target` with `Host`, the given headers and an optional body (Content-Length framed).
    func request(
        _ method: String = "GET", _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        timeout: Duration = .seconds(10)
    ) async throws -> RawHTTPClient.Response {
        try await withClient(port: self.proxyPort) { client in
            try await client.send(Self.requestBytes(method, target, headers: headers, body: body))
            return try await client.readResponse(timeout: timeout, headRequest: method == "HEAD")
        }
    }

    static func requestBytes(
        _ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) -> [UInt8] {
        var head = "\(method) \(target) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { head += "Host: gateway.test\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }

    /// A GET on the admin listener.
    func admin(_ method: String = "GET", _ path: String) async throws -> RawHTTPClient.Response {
        try await withClient(port: self.adminPort) { client in
            let body = method == "POST" ? "Content-Length: 0\r\n" : ""
            try await client.send("\(method) \(path) HTTP/1.1\r\nHost: admin\r\n\(body)Connection: close\r\n\r\n")
            return try await client.readResponse()
        }
    }

    func metrics() async throws -> String {
        try await self.admin("GET", "/metrics").bodyText
    }
}

/// Connects a raw client, runs `body`, closes the client.
func withClient<T>(port: Int, _ body: (RawHTTPClient) async throws -> T) async throws -> T {
    let client = try await RawHTTPClient.connect(port: port)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

enum HarnessError: Error, CustomStringConvertible {
    case gatewayStopped(String)

    var description: String {
        switch self {
        case .gatewayStopped(let why): "the gateway stopped before it was bound: \(why)"
        }
    }
}

/// The logger handed to in-process gateways: silent unless `GATEWAY_TEST_LOG` is set (then stderr at that level).
func testLogger() -> Logger {
    if let level = ProcessInfo.processInfo.environment["GATEWAY_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) {
        var logger = Logger(label: "gateway-test") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }
    return Logger(label: "gateway-test") { _ in SwiftLogNoOpLogHandler() }
}

/// Writes `yaml` to a temporary file and returns its path.
func writeTemporaryConfig(_ yaml: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-e2e-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent("gateway.yaml")
    try yaml.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

/// Removes what `writeTemporaryConfig` made (the file and its directory).
func removeTemporaryConfig(_ path: String) {
    try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
}

/// Runs a real `GatewayApplication` from `yaml` with both listeners on 127.0.0.1:0, runs `body` with the bound
/// ports, then cancels the gateway's service group and waits for it to stop.
///
/// - Parameter proxyLoops: the number of the proxy listener's event loops, each with its curl engine and connection
///   pool (default: one per core). A test that counts upstream connections across several client connections asks
///   for one: with more, each loop's engine opens its own.
func withGateway<T: Sendable>(
    yaml: String, environment: [String: String] = [:], proxyLoops: Int? = nil,
    _ body: @Sendable (RunningGateway) async throws -> T
) async throws -> T {
    guard let proxyLoops else {
        return try await runGateway(yaml: yaml, environment: environment, proxyEventLoopGroup: nil, body)
    }
    return try await withEventLoops(proxyLoops) { group in
        try await runGateway(yaml: yaml, environment: environment, proxyEventLoopGroup: group, body)
    }
}

/// Runs `body` with a group of `count` event loops of its own, shut down after it whether it threw or not.
func withEventLoops<T>(
    _ count: Int, _ body: (MultiThreadedEventLoopGroup) async throws -> T
) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: count)
    let result: Result<T, any Error>
    do {
        result = .success(try await body(group))
    } catch {
        result = .failure(error)
    }
    try await group.shutdownGracefully()
    return try result.get()
}

private func runGateway<T: Sendable>(
    yaml: String, environment: [String: String], proxyEventLoopGroup: (any EventLoopGroup)?,
    _ body: @Sendable (RunningGateway) async throws -> T
) async throws -> T {
    let path = try writeTemporaryConfig(yaml)
    defer { removeTemporaryConfig(path) }
    let loopback = ListenAddress(host: "127.0.0.1", port: 0)
    let application = GatewayApplication(
        options: .init(
            configPath: path, environment: environment, listenOverride: loopback, adminListenOverride: loopback,
            // Access-log lines are asserted in Operations/AccessLogTests with a capturing sink; here they would
            // only flood the test output.
            accessLog: AccessLog(sink: { _ in }), proxyEventLoopGroup: proxyEventLoopGroup),
        logger: testLogger())
    let portsOrFailure = PortsOrFailure()
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            do {
                _ = try await application.run()
                portsOrFailure.fail(HarnessError.gatewayStopped("run() returned"))
            } catch {
                portsOrFailure.fail(HarnessError.gatewayStopped("\(error)"))
                throw error
            }
        }
        // `ports()` cannot be cancelled; an unstructured task waits for it so a failed start cannot hang the test.
        Task { portsOrFailure.succeed(try await application.listeners.ports()) }
        do {
            let ports = try await portsOrFailure.wait()
            let result = try await body(
                RunningGateway(proxyPort: ports.proxy, adminPort: ports.admin, configPath: path))
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// Resolves once, with the ports or the reason the gateway did not start.
private final class PortsOrFailure: Sendable {
    private enum State {
        case waiting([CheckedContinuation<(proxy: Int, admin: Int), any Error>])
        case done(Result<(proxy: Int, admin: Int), any Error>)
    }

    private let state = NIOLockedValueBox(State.waiting([]))

    func succeed(_ ports: (proxy: Int, admin: Int)) { self.resolve(.success(ports)) }
    func fail(_ error: any Error) { self.resolve(.failure(error)) }

    private func resolve(_ result: Result<(proxy: Int, admin: Int), any Error>) {
        let waiters: [CheckedContinuation<(proxy: Int, admin: Int), any Error>] = self.state.withLockedValue { state in
            guard case .waiting(let waiters) = state else { return [] }
            state = .done(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    func wait() async throws -> (proxy: Int, admin: Int) {
        try await withCheckedThrowingContinuation { continuation in
            let done: Result<(proxy: Int, admin: Int), any Error>? = self.state.withLockedValue { state in
                switch state {
                case .waiting(let waiters):
                    state = .waiting(waiters + [continuation])
                    return nil
                case .done(let result):
                    return result
                }
            }
            if let done { continuation.resume(with: done) }
        }
    }
}

/// Runs an in-process vendor simulator on 127.0.0.1:0 for the duration of `body`.
func withSimulator<T: Sendable>(_ body: @Sendable (VendorSimulator) async throws -> T) async throws -> T {
    let simulator = try await VendorSimulator.start()
    do {
        let result = try await body(simulator)
        try? await simulator.shutdown()
        return result
    } catch {
        try? await simulator.shutdown()
        throw error
    }
}

/// Runs a stub upstream for the duration of `body`.
func withStub<T: Sendable>(
    _ behaviour: @escaping @Sendable (StubUpstream.Request) -> StubUpstream.Behaviour,
    _ body: @Sendable (StubUpstream) async throws -> T
) async throws -> T {
    let stub = try await StubUpstream.start(behaviour)
    do {
        let result = try await body(stub)
        await stub.shutdown()
        return result
    } catch {
        await stub.shutdown()
        throw error
    }
}

/// A one-upstream, one-route config: upstream `sim` at `url`, route `/api/` (stripped) → `sim`.
///
/// - Parameters:
///   - upstream: extra YAML lines of the upstream (indented by the caller with 4 spaces).
///   - route: extra YAML lines of the route (4 spaces).
///   - top: extra top-level YAML (server:, errors:, …).
func simpleConfig(url: String, upstream: String = "", route: String = "", top: String = "") -> String {
    """
    \(top)
    upstreams:
      sim:
        url: \(url)
    \(upstream)
    routes:
      - name: api
        path_prefix: /api/
        strip_prefix: true
        upstream: sim
    \(route)
    """
}

/// The parsed JSON object of a response body (an empty dictionary if it is not one).
func jsonObject(_ response: RawHTTPClient.Response) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed])) as? [String: Any]
        ?? [:]
}

/// The canonical envelope's members, typed for assertions.
struct Envelope {
    let json: [String: Any]

    init(_ response: RawHTTPClient.Response) {
        self.json = jsonObject(response)
    }

    var type: String? { self.json["type"] as? String }
    var title: String? { self.json["title"] as? String }
    var status: Int? { self.json["status"] as? Int }
    var detail: String? { self.json["detail"] as? String }
    var instance: String? { self.json["instance"] as? String }
    var code: String? { self.json["code"] as? String }
    var retryable: Bool? { self.json["retryable"] as? Bool }
    var requestID: String? { self.json["request_id"] as? String }
    var source: String? { self.json["source"] as? String }
    var retryAfter: Int? { self.json["retry_after"] as? Int }
    var upstream: [String: Any]? { self.json["upstream"] as? [String: Any] }
    var upstreamName: String? { self.upstream?["name"] as? String }
    /// The upstream status, `.some(nil)` for JSON null, nil when absent.
    var upstreamStatus: Int?? {
        guard let upstream = self.upstream, let value = upstream["status"] else { return nil }
        return .some(value as? Int)
    }
    var upstreamStatusIsNull: Bool { self.upstream?["status"] is NSNull }
    var upstreamCode: String? { self.upstream?["code"] as? String }
    var upstreamCodeIsNull: Bool { self.upstream?["code"] is NSNull }
    var upstreamDialect: String? { self.upstream?["dialect"] as? String }
    var errors: [[String: Any]] { self.json["errors"] as? [[String: Any]] ?? [] }
    var errorPointers: [String] { self.errors.compactMap { $0["pointer"] as? String } }
    var errorDetails: [String] { self.errors.compactMap { $0["detail"] as? String } }
    var suggestions: [String] { self.json["suggestions"] as? [String] ?? [] }
}

/// What `echo=true` reports about the request the simulator received.
struct Echo {
    let json: [String: Any]

    init(_ response: RawHTTPClient.Response) {
        self.json = jsonObject(response)
    }

    var method: String? { self.json["method"] as? String }
    var target: String? { self.json["target"] as? String }
    var path: String? { self.json["path"] as? String }
    var query: String? { self.json["query"] as? String }
    var headers: [(name: String, value: String)] {
        (self.json["headers"] as? [[String]] ?? []).compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
    }
    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
    func headers(_ name: String) -> [String] {
        self.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
    var body: [UInt8]? {
        if let text = self.json["body"] as? String { return Array(text.utf8) }
        if let base64 = self.json["body_base64"] as? String, let data = Data(base64Encoded: base64) {
            return Array(data)
        }
        return nil
    }
}
