import GatewayCore
import GatewayHTTPServer
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1

/// The proxy's request path (DESIGN.md, "A request's path"): request id → route → forward → respond.
///
/// Everything decided without I/O comes from `GatewayCore`; this type only sequences the steps and moves bytes.
struct ProxyResponder: HTTPResponder {
    let state: GatewayState
    let upstreamClient: any UpstreamClient
    let metrics: GatewayMetrics
    let logger: Logger
    /// `https` when the listener terminates TLS.
    let scheme: String

    func respond(to request: ServerRequest, writer: ResponseWriter) async throws {
        let snapshot = self.state.snapshot
        let configuration = snapshot.configuration
        let requestID = Self.requestID(for: request.head.headers)
        let (path, query) = PathRewriter.split(target: request.target)
        var logger = self.logger
        logger[metadataKey: "request.id"] = .string(requestID)

        let accept = request.head.headers["accept"]
        func problem(_ document: ProblemDocument, headers: HTTPHeaders = [:]) async throws {
            let response = ProblemResponse.make(
                document, typeBase: configuration.errors.typeBase, accept: accept, extraHeaders: headers)
            try await writer.write(response)
        }

        guard let method = HTTPRequest.Method(request.head.method.rawValue) else {
            try await problem(ProblemDocument(
                code: .badRequest, detail: "The request method is not valid.", instance: String(path),
                requestID: requestID, source: .gateway))
            return
        }

        let match: RouteTable.Match
        switch snapshot.routeTable.match(path: path, method: method) {
        case .success(let found):
            match = found
        case .failure(.noRoute):
            try await problem(ProblemDocument(
                code: .notFound, detail: "No route matches this path.", instance: String(path),
                requestID: requestID, source: .gateway))
            return
        case .failure(.methodNotAllowed(_, let allowed)):
            try await problem(
                ProblemDocument(
                    code: .methodNotAllowed, detail: "The method \(method.rawValue) is not allowed on this route.",
                    instance: String(path), requestID: requestID, source: .gateway),
                headers: ["allow": allowed.map(\.rawValue).joined(separator: ", ")])
            return
        }
        let route = match.route
        logger[metadataKey: "route"] = .string(route.name)
        guard let upstream = configuration.upstreams[route.upstream] else {
            // The config validator guarantees this never happens; answer like any internal fault.
            try await problem(ProblemDocument(
                code: .internalError, instance: String(path), requestID: requestID, source: .gateway))
            return
        }
        logger[metadataKey: "upstream"] = .string(upstream.name)

        let upstreamRequest = UpstreamRequest(
            method: method,
            url: PathRewriter.upstreamURL(upstream: upstream.url, route: route, path: path, query: query),
            headers: ForwardingHeaders.upstreamRequestHeaders(
                client: request.head.headers, peerAddress: ForwardingHeaders.peerIP(request.remoteAddress),
                requestID: requestID, scheme: self.scheme, upstream: upstream),
            body: request.body,
            connectTimeout: upstream.timeouts.connect,
            headTimeout: upstream.timeouts.perTry,
            idleTimeout: upstream.timeouts.idle,
            tls: upstream.tls)

        let response: UpstreamResponse
        do {
            response = try await self.upstreamClient.execute(upstreamRequest)
        } catch let error as UpstreamError {
            logger.debug("upstream try failed", metadata: ["error": "\(error)"])
            let code = error.canonicalCode
            try await problem(ProblemDocument(
                code: code, instance: String(path), requestID: requestID, source: .gateway,
                upstream: .init(name: upstream.name)))
            return
        }

        try await self.stream(response, requestID: requestID, method: method, writer: writer)
    }

    /// Passes an upstream response through: head at once, body chunk by chunk with backpressure.
    private func stream(
        _ response: UpstreamResponse, requestID: String, method: HTTPRequest.Method, writer: ResponseWriter
    ) async throws {
        let status = response.head.status
        let bodyless = method == .head || status == 204 || status == 304 || (100..<200).contains(status)
        let headers = ForwardingHeaders.clientResponseHeaders(
            upstream: response.head.headers, requestID: requestID, keepContentLength: true)
        try await writer.writeHead(status: HTTPResponseStatus(statusCode: status), headers: headers)
        if !bodyless {
            for try await chunk in response.body {
                try await writer.writeBodyPart(chunk)
            }
        }
        try await writer.writeEnd()
    }

    /// The client's `X-Request-ID` when it is acceptable (SPEC section 5), else a new one.
    static func requestID(for headers: HTTPHeaders) -> String {
        if let incoming = headers.first(name: "x-request-id"), RequestID.isAcceptable(incoming) {
            return incoming
        }
        var random = SystemRandomNumberGenerator()
        return RequestID.make(unixMilliseconds: UInt64(DateHeader.unixMilliseconds()), using: &random)
    }

    func response(for refusal: ServerRefusal, head: HTTPRequestHead?, remoteAddress: SocketAddress?) -> ServerResponse {
        let snapshot = self.state.snapshot
        let requestID = head.map { Self.requestID(for: $0.headers) } ?? Self.requestID(for: [:])
        let path = head.map { String(PathRewriter.split(target: $0.uri).path) } ?? "/"
        let code: ErrorCode
        switch refusal {
        case .headerTooLarge: code = .headerTooLarge
        case .bodyTooLarge: code = .payloadTooLarge
        case .requestTimeout: code = .requestTimeout
        case .tooManyConnections: code = .serviceUnavailable
        case .internalError: code = .internalError
        case .malformedRequest, .uriTooLong, .unsupportedTransferEncoding, .methodNotImplemented, .expectationFailed:
            code = .badRequest
        }
        let document = ProblemDocument(
            code: code, status: refusal.status, detail: refusal.description, instance: path,
            requestID: requestID, source: .gateway, retryAfter: refusal == .tooManyConnections ? 1 : nil)
        return ProblemResponse.make(
            document, typeBase: snapshot.configuration.errors.typeBase, accept: head?.headers["accept"] ?? [])
    }
}
