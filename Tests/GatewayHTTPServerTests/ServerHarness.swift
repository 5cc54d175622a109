import GatewayHTTPServer
import GatewayTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Counts the slow requests that have started, so tests can wait for one without guessing how long it takes.
final class SlowRequestProbe: Sendable {
    private let started = NIOLockedValueBox(0)

    func begin() { self.started.withLockedValue { $0 += 1 } }

    /// Polls until at least `count` slow requests have started, up to `timeout`.
    func waitForStarted(_ count: Int = 1, timeout: Duration = .seconds(10)) async throws {
        let started = await eventually(within: timeout, pollingEvery: .milliseconds(5)) {
            self.started.withLockedValue { $0 } >= count
        }
        guard started else { throw CancellationError() }
    }
}

/// A responder for listener tests: echoes what it received, and can be told to wait or stream.
struct EchoResponder: HTTPResponder {
    var probe = SlowRequestProbe()

    func respond(to request: ServerRequest, writer: ResponseWriter) async throws {
        let query = request.target
        if query.contains("slow=") {
            self.probe.begin()
            try await Task.sleep(for: .milliseconds(300))
        }
        let text = "\(request.head.method.rawValue) \(request.target) body=\(request.body?.readableBytes ?? 0)"
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain")
        try await writer.write(ServerResponse(status: .ok, headers: headers, body: ByteBuffer(string: text)))
    }

    func response(for refusal: ServerRefusal, head: HTTPRequestHead?, remoteAddress: SocketAddress?) -> ServerResponse {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/problem+json")
        return ServerResponse(
            status: HTTPResponseStatus(statusCode: refusal.status), headers: headers,
            body: ByteBuffer(string: "{\"status\":\(refusal.status)}"))
    }
}

/// Runs a listener on 127.0.0.1:0 for the duration of `body`, then stops it.
func withServer<T: Sendable>(
    _ configuration: HTTPServerConfiguration = .init(),
    responder: any HTTPResponder = EchoResponder(),
    _ body: @Sendable (HTTPServer, Int) async throws -> T
) async throws -> T {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    let server = HTTPServer(configuration: configuration, responder: responder, logger: Logger(label: "test"))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let port = try await server.localAddress().port!
        do {
            let result = try await body(server, port)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// Sends `request` on a new connection to a fresh listener, reads one response, and (with `checkClosed`) tells
/// whether the listener then closed the connection within 2 s.
func exchangeOnce(
    _ request: String, configuration: HTTPServerConfiguration = .init(), checkClosed: Bool = true
) async throws -> (response: RawHTTPClient.Response, closed: Bool) {
    try await withServer(configuration) { _, port in
        let client = try await RawHTTPClient.connect(port: port)
        try await client.send(request)
        let response = try await client.readResponse()
        let closed = checkClosed ? await client.isClosed(within: .seconds(2)) : false
        return (response, closed)
    }
}
