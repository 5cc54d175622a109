import GatewayHTTPServer
import NIOCore
import NIOHTTP1
import Prometheus

/// The admin listener's endpoints (SPEC section 6): `/metrics`, `/healthz`, `/readyz`, `POST /reload`.
struct AdminResponder: HTTPResponder {
    let registry: PrometheusCollectorRegistry
    let health: GatewayHealth
    let processMetrics: ProcessMetrics
    /// Re-reads the config; returns the problems of a rejected file, or nil when the new config is in force.
    let reload: @Sendable () async -> [String]?

    func respond(to request: ServerRequest, writer: ResponseWriter) async throws {
        let path = request.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        switch (request.head.method, path) {
        case (.GET, "/metrics"), (.HEAD, "/metrics"):
            self.processMetrics.update()
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16 * 1024)
            self.registry.emit(into: &bytes)
            try await writer.write(
                Self.text(.ok, ByteBuffer(bytes: bytes), contentType: "text/plain; version=0.0.4; charset=utf-8"))
        case (.GET, "/healthz"), (.HEAD, "/healthz"):
            try await writer.write(Self.text(.ok, ByteBuffer(string: "ok\n")))
        case (.GET, "/readyz"), (.HEAD, "/readyz"):
            if self.health.isReady {
                try await writer.write(Self.text(.ok, ByteBuffer(string: "ready\n")))
            } else {
                try await writer.write(Self.text(.serviceUnavailable, ByteBuffer(string: "not ready\n")))
            }
        case (.POST, "/reload"):
            if let problems = await self.reload() {
                try await writer.write(
                    Self.text(.unprocessableEntity, ByteBuffer(string: problems.joined(separator: "\n") + "\n")))
            } else {
                try await writer.write(Self.text(.ok, ByteBuffer(string: "reloaded\n")))
            }
        case (_, "/metrics"), (_, "/healthz"), (_, "/readyz"):
            try await writer.write(Self.methodNotAllowed(allow: "GET, HEAD"))
        case (_, "/reload"):
            try await writer.write(Self.methodNotAllowed(allow: "POST"))
        default:
            try await writer.write(Self.text(.notFound, ByteBuffer(string: "not found\n")))
        }
    }

    func response(for refusal: ServerRefusal, head: HTTPRequestHead?, remoteAddress: SocketAddress?) -> ServerResponse {
        Self.text(HTTPResponseStatus(statusCode: refusal.status), ByteBuffer(string: refusal.description + "\n"))
    }

    /// A 405 with the `Allow` field RFC 9110 section 15.5.6 requires: the methods the resource supports.
    private static func methodNotAllowed(allow: String) -> ServerResponse {
        var response = Self.text(.methodNotAllowed, ByteBuffer(string: "method not allowed\n"))
        response.headers.add(name: "allow", value: allow)
        return response
    }

    private static func text(
        _ status: HTTPResponseStatus, _ body: ByteBuffer, contentType: String = "text/plain; charset=utf-8"
    ) -> ServerResponse {
        ServerResponse(
            status: status, headers: ["content-type": contentType, "cache-control": "no-store"], body: body)
    }
}
