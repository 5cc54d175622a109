import ErrorNormalization
import GatewayCore
import GatewayHTTPServer
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1

/// The proxy's request path (DESIGN.md, "A request's path"): request id → route → rate limit → forward with
/// retries → normalize → respond.
///
/// Everything decided without I/O comes from `GatewayCore` and `ErrorNormalization`; this type sequences the steps
/// and moves bytes.
struct ProxyResponder: HTTPResponder {
    let state: GatewayState
    let upstreamClient: any UpstreamClient
    let rateLimits: RateLimitGate
    let metrics: GatewayMetrics
    let logger: Logger
    /// `https` when the listener terminates TLS.
    let scheme: String
    /// Where access-log lines go (nil: none; `server.access_log` turns them off too).
    var accessLog: AccessLog? = nil
    /// Answers for upstreams whose vendor said their limit is spent (`quota_shield`); nil: none has it.
    var quotaShield: QuotaShieldGate? = nil
    let normalizer = ErrorNormalizer()
    /// How much of an upstream error body the normalizer reads.
    let errorBodyLimit = 64 * 1024

    /// What one request needs from start to end.
    private struct Exchange {
        let snapshot: GatewaySnapshot
        let request: ServerRequest
        let requestID: String
        let path: Substring
        let accept: [String]
        var routeName = "unmatched"
        var logger: Logger
        let notes = AccessNotes()
    }

    func respond(to request: ServerRequest, writer: ResponseWriter) async throws {
        let snapshot = self.state.snapshot
        let (rawPath, query) = PathRewriter.split(target: request.target)
        let path = PathRewriter.removingDotSegments(rawPath)
        var exchange = Exchange(
            snapshot: snapshot, request: request, requestID: Self.requestID(for: request.head.headers), path: path,
            accept: request.head.headers["accept"], logger: self.logger)
        // Metadata costs an allocation per key (and StreamLogHandler re-renders it on every set): attach it only
        // when the hot path logs at all, at debug or below.
        let annotate = self.logger.logLevel <= .debug
        if annotate { exchange.logger[metadataKey: "request.id"] = .string(exchange.requestID) }
        self.metrics.requestStarted()
        defer {
            self.metrics.requestEnded()
            self.metrics.requestFinished(
                route: exchange.routeName, method: request.head.method.rawValue,
                status: Int(writer.status?.code ?? 0), duration: ContinuousClock.now - request.receivedAt)
            // Without a head, a thrown error is logged by `response(for: .internalError)`; a client that left is not.
            if snapshot.configuration.server.accessLog, writer.status != nil || Task.isCancelled {
                self.accessLog?.requestFinished(
                    request, requestID: exchange.requestID, route: exchange.routeName, path: exchange.path,
                    notes: exchange.notes, writer: writer)
            }
        }
        try await self.proxy(&exchange, query: query, writer: writer)
    }

    /// Runs the request through the whole pipeline and answers it, in four stages: resolve (method, `Max-Forwards`,
    /// route, upstream) → admit (rate limit, quota shield, the upstream's in-flight cap) → forward (the upstream
    /// exchange, with retries) → deliver (the upstream's response streamed through, or an envelope). A stage that
    /// stops the request returns a ``Refusal``, and ``refuse(_:exchange:writer:)`` answers every one of them.
    private func proxy(_ exchange: inout Exchange, query: Substring?, writer: ResponseWriter) async throws {
        let target: Target
        switch self.resolve(&exchange) {
        case .forward(let resolved):
            target = resolved
        case .answerMaxForwards(let method):
            try await self.answerMaxForwards(method: method, exchange: exchange, writer: writer)
            return
        case .refuse(let refusal):
            try await self.refuse(refusal, exchange: exchange, writer: writer)
            return
        }

        let rateLimitStates: [RateLimitBucketState]
        switch await self.admit(target, exchange: exchange) {
        case .admitted(let states):
            rateLimitStates = states
        case .refused(let refusal):
            try await self.refuse(refusal, exchange: exchange, writer: writer)
            return
        }
        defer { target.plan.runtime.leave() }

        let (result, attempts) = await self.forward(target, query: query, exchange: exchange)
        exchange.notes.attempts = attempts
        try await self.deliver(
            result, attempts: attempts, target: target, rateLimitStates: rateLimitStates, exchange: exchange,
            writer: writer)
    }

    // MARK: stages

    /// Where a request goes, once resolved.
    private struct Target {
        let method: HTTPRequest.Method
        /// The route, its upstream and their runtime state.
        let plan: RoutePlan
        let trace: TraceContext
    }

    /// A gateway-made answer, before it becomes an envelope (see ``refuse(_:exchange:writer:)``).
    private struct Refusal {
        var code: ErrorCode
        /// The status when it is not the code's own.
        var status: Int? = nil
        var detail: String? = nil
        /// The upstream the answer is about, if any.
        var upstream: String? = nil
        /// `Retry-After` and the envelope's `retry_after`, in seconds.
        var retryAfter: Int? = nil
        var headers: HTTPHeaders = [:]
    }

    private enum Resolution {
        case forward(Target)
        /// `OPTIONS` or `TRACE` with `Max-Forwards: 0`: the gateway is the last recipient and answers itself.
        case answerMaxForwards(HTTPRequest.Method)
        case refuse(Refusal)
    }

    /// Stage 1: the method, `Max-Forwards`, the route and its upstream. Names the route, the upstream and the trace
    /// in the access notes and the logger.
    private func resolve(_ exchange: inout Exchange) -> Resolution {
        let request = exchange.request
        guard let method = HTTPRequest.Method(request.head.method.rawValue) else {
            return .refuse(Refusal(code: .badRequest, detail: "The request method is not valid."))
        }
        if method == .options || method == .trace, request.head.headers.first(name: "max-forwards") == "0" {
            return .answerMaxForwards(method)  // RFC 9110 section 7.6.2
        }

        let routeIndex: Int
        switch exchange.snapshot.routeTable.match(path: exchange.path, method: method) {
        case .success(let match):
            routeIndex = match.index
        case .failure(.noRoute):
            return .refuse(Refusal(code: .notFound, detail: "No route matches this path."))
        case .failure(.methodNotAllowed(let name, let allowed)):
            exchange.routeName = name
            return .refuse(
                Refusal(
                    code: .methodNotAllowed, detail: "The method \(method.rawValue) is not allowed on this route.",
                    headers: ["allow": allowed.map(\.rawValue).joined(separator: ", ")]))
        }
        guard let plan = exchange.snapshot.routePlans[routeIndex] else {
            // The config validator guarantees every route's upstream exists; answer like any internal fault.
            exchange.routeName = exchange.snapshot.routeTable.routes[routeIndex].name
            return .refuse(Refusal(code: .internalError))
        }
        exchange.routeName = plan.route.name
        if exchange.logger.logLevel <= .debug {
            exchange.logger[metadataKey: "route"] = .string(plan.route.name)
            exchange.logger[metadataKey: "upstream"] = .string(plan.upstream.name)
        }
        exchange.notes.upstream = plan.upstream.name
        // The trace is the request's from here on: a refused request's access-log line carries it too.
        let trace = TraceContext.of(request.head.headers, tracing: exchange.snapshot.configuration.server.tracing)
        exchange.notes.trace = trace
        if exchange.logger.logLevel <= .debug { exchange.logger[metadataKey: "trace.id"] = .string(trace.traceIDHex) }
        return .forward(Target(method: method, plan: plan, trace: trace))
    }

    private enum Admission {
        /// Admitted: the gateway's bucket states (for the rate-limit headers), and one of the upstream's in-flight
        /// places taken (`runtime.leave()` gives it back).
        case admitted([RateLimitBucketState])
        case refused(Refusal)
    }

    /// Stage 2: the route's rate limits, the upstream's quota shield, then the upstream's in-flight cap. Nothing is
    /// sent upstream for a refused request.
    private func admit(_ target: Target, exchange: Exchange) async -> Admission {
        let headers = exchange.request.head.headers
        let states: [RateLimitBucketState]
        switch await self.rateLimits.check(
            route: target.plan.route, policies: target.plan.policies, snapshot: exchange.snapshot, headers: headers,
            peerIP: exchange.request.peerIP)
        {
        case .proceed(let granted):
            states = granted
        case .deny(let denied, let retryAfter):
            return .refused(Refusal(code: .rateLimited, retryAfter: retryAfter, headers: RateLimitGate.headers(denied)))
        case .storeUnavailable:
            return .refused(
                Refusal(code: .serviceUnavailable, detail: "The rate-limit store cannot be reached.", retryAfter: 1))
        }

        let upstream = target.plan.upstream
        if let answer = await self.quotaShield?.check(upstream: upstream, headers: headers) {
            return .refused(
                Refusal(
                    code: answer.block.code, status: 429, detail: answer.detail, upstream: upstream.name,
                    retryAfter: answer.retryAfterSeconds,
                    headers: Self.rateLimitHeaders(
                        upstream: HTTPFields(answer.block.fields), upstreamName: upstream.name, gateway: states)))
        }
        guard target.plan.runtime.enter() else {
            return .refused(
                Refusal(
                    code: .upstreamUnavailable, status: 503,
                    detail: "Too many requests to this upstream are in flight.",
                    upstream: upstream.name, retryAfter: 1, headers: RateLimitGate.headers(states)))
        }
        return .admitted(states)
    }

    /// Stage 3: the upstream request (the forwarding headers, the request's trace context), sent with retries.
    private func forward(
        _ target: Target, query: Substring?, exchange: Exchange
    ) async -> (ExchangeResult, attempts: Int) {
        let request = exchange.request
        let upstream = target.plan.upstream
        let upstreamRequest = UpstreamRequest(
            method: target.method,
            url: PathRewriter.upstreamURL(
                upstream: upstream.url, route: target.plan.route, path: exchange.path, query: query),
            headers: ForwardingHeaders.upstreamRequestHeaders(
                client: request.head.headers, method: target.method,
                peerAddress: request.peerIP, requestID: exchange.requestID,
                scheme: self.scheme, upstream: upstream),
            body: request.body,
            connectTimeout: upstream.timeouts.connect,
            headTimeout: upstream.timeouts.perTry,
            idleTimeout: upstream.timeouts.idle,
            tls: upstream.tls, httpVersion: upstream.httpVersion, proxy: upstream.proxy, noProxy: upstream.noProxy,
            trace: target.trace)
        let forwarder = UpstreamExchange(
            client: self.upstreamClient, metrics: self.metrics, logger: exchange.logger,
            errorBodyLimit: self.errorBodyLimit)
        return await forwarder.run(upstreamRequest, upstream: upstream, runtime: target.plan.runtime)
    }

    /// Stage 4: what the exchange ended with, to the client: a response streamed through, an upstream error
    /// normalized, or a gateway-made envelope for a transport failure or an open circuit.
    private func deliver(
        _ result: ExchangeResult, attempts: Int, target: Target, rateLimitStates: [RateLimitBucketState],
        exchange: Exchange, writer: ResponseWriter
    ) async throws {
        let upstream = target.plan.upstream
        let clientHeaders = exchange.request.head.headers
        var extraHeaders = HTTPHeaders()
        if attempts > 1 { extraHeaders.add(name: "gateway-attempts", value: String(attempts)) }

        switch result {
        case .response(let response):
            await self.quotaShield?.observe(
                upstream: upstream, clientHeaders: clientHeaders, head: response.head, code: nil)
            try await self.streamResponse(
                response, upstream: upstream, method: target.method, exchange: exchange, extraHeaders: extraHeaders,
                rateLimitStates: rateLimitStates, writer: writer)
        case .errorResponse(let head, let body, let complete):
            let document = self.normalizer.normalize(
                status: head.status, headers: head.headers, body: body, bodyComplete: complete,
                context: self.context(upstream: upstream, exchange: exchange))
            await self.quotaShield?.observe(
                upstream: upstream, clientHeaders: clientHeaders, head: head, code: document.code)
            extraHeaders.add(
                contentsOf: Self.rateLimitHeaders(
                    upstream: head.headers, upstreamName: upstream.name, gateway: rateLimitStates))
            try await self.send(document, exchange: exchange, writer: writer, headers: extraHeaders)
        case .transportFailure(let error):
            exchange.logger.debug("upstream failed", metadata: ["error": "\(error)"])
            extraHeaders.add(contentsOf: RateLimitGate.headers(rateLimitStates))
            try await self.refuse(
                Refusal(
                    code: error.canonicalCode, detail: error.clientDetail, upstream: upstream.name,
                    headers: extraHeaders),
                exchange: exchange, writer: writer)
        case .circuitOpen(let retryAfter):
            try await self.refuse(
                Refusal(
                    code: .upstreamUnavailable, status: 503,
                    detail: "The upstream is failing; requests are not sent for now.", upstream: upstream.name,
                    retryAfter: RetryHint.headerSeconds(for: retryAfter),
                    headers: RateLimitGate.headers(rateLimitStates)),
                exchange: exchange, writer: writer)
        }
    }

    private func context(upstream: UpstreamConfiguration, exchange: Exchange) -> NormalizationContext {
        NormalizationContext(
            upstream: upstream, instance: String(exchange.path), requestID: exchange.requestID,
            expose: exchange.snapshot.configuration.errors.exposeUpstreamMessages,
            nowUnixSeconds: DateHeader.unixSeconds(), bodyLimit: self.errorBodyLimit)
    }

    /// Streams an upstream response to the client: head at once, body chunk by chunk with backpressure. With
    /// `errors_in_success`, a 2xx body prefix is read first and rewritten if it is an error in disguise.
    private func streamResponse(
        _ response: UpstreamResponse, upstream: UpstreamConfiguration, method: HTTPRequest.Method,
        exchange: Exchange, extraHeaders: HTTPHeaders, rateLimitStates: [RateLimitBucketState],
        writer: ResponseWriter
    ) async throws {
        let status = response.head.status
        let bodyless = method == .head || status == 204 || status == 304
        var body = response.body.makeAsyncIterator()
        var prefix: [ByteBuffer] = []
        if upstream.errorsInSuccess, (200..<300).contains(status), !bodyless {
            var collected = ByteBuffer()
            var complete = false
            while collected.readableBytes <= self.errorBodyLimit {
                guard var chunk = try await body.next() else {
                    complete = true
                    break
                }
                prefix.append(chunk)
                collected.writeBuffer(&chunk)
            }
            if complete,
                let document = self.normalizer.normalizeSuccess(
                    status: status, headers: response.head.headers, body: collected,
                    context: self.context(upstream: upstream, exchange: exchange))
            {
                try await self.send(document, exchange: exchange, writer: writer, headers: extraHeaders)
                return
            }
        }

        var upstreamHeaders = response.head.headers
        var addsGatewayLimits = false
        if !rateLimitStates.isEmpty {
            if RateLimitHeaders.hasRateLimitFields(upstreamHeaders) {
                // The client sees the more restrictive of the upstream's limits and the gateway's (SPEC section 4).
                upstreamHeaders = RateLimitHeaders.merge(
                    upstream: upstreamHeaders, gateway: rateLimitStates, upstreamName: upstream.name,
                    nowUnixSeconds: DateHeader.unixSeconds())
            } else {
                // Nothing of the upstream's to compare: the gateway's own fields, as `merge` would append them, added
                // to the client's head without copying the upstream's fields first.
                addsGatewayLimits = true
            }
        }
        var headers = ForwardingHeaders.clientResponseHeaders(
            upstream: upstreamHeaders, requestID: exchange.requestID, keepContentLength: true)
        if addsGatewayLimits { RateLimitGate.addHeaders(rateLimitStates, to: &headers) }
        headers.add(contentsOf: extraHeaders)
        let responseStatus = HTTPResponseStatus(statusCode: status)
        if bodyless {
            try await writer.writeHead(status: responseStatus, headers: headers, firstPart: nil, isLast: true)
            return
        }
        if let parts = response.body.bufferedChunks, prefix.isEmpty {
            // The whole body came with its head: head, body and end leave in one write, whatever the framing.
            try await writer.writeHead(status: responseStatus, headers: headers, parts: parts)
            return
        }
        // A body of known, moderate length follows its head at once: hold the head for the first part, and end with
        // the last, so a small response leaves in one write. A streamed body (no length, or a large one) gets its
        // head at once, so a slow first byte never delays it.
        let length = headers.first(name: "content-length").flatMap { Int($0) }
        guard let length, length <= Self.coalescedBodyLimit, prefix.isEmpty else {
            try await writer.writeHead(status: responseStatus, headers: headers)
            for chunk in prefix {
                try await writer.writeBodyPart(chunk)
            }
            while let chunk = try await body.next() {
                try await writer.writeBodyPart(chunk)
            }
            try await writer.writeEnd()
            return
        }
        let first: ByteBuffer?
        do {
            first = length == 0 ? nil : try await body.next()
        } catch {
            // As when the head had gone out at once: the client sees the head, then the connection cut.
            try await writer.writeHead(status: responseStatus, headers: headers)
            throw error
        }
        var written = first?.readableBytes ?? 0
        var ended = first == nil || written >= length
        try await writer.writeHead(status: responseStatus, headers: headers, firstPart: first, isLast: ended)
        // The transfer is still read to its end (curl then keeps the upstream connection for the next request).
        while let chunk = try await body.next() {
            guard !ended else { continue }
            written += chunk.readableBytes
            ended = written >= length
            try await writer.writeBodyPart(chunk, isLast: ended)
        }
        if !ended { try await writer.writeEnd() }
    }

    /// Responses with a `Content-Length` up to this are written head-with-body (see `streamResponse`).
    static let coalescedBodyLimit = 256 * 1024

    /// The rate-limit fields of a rewritten upstream error: the upstream's own (`X-RateLimit-*`, `RateLimit*`,
    /// `X-Quota-*`) merged with the gateway's buckets, so an envelope never hides a limit.
    private static func rateLimitHeaders(
        upstream: HTTPFields, upstreamName: String, gateway: [RateLimitBucketState]
    ) -> HTTPHeaders {
        // Most error responses carry no limit of the upstream's, and most routes none of the gateway's: nothing to
        // copy, merge or convert (the set look-up hashes every field's name).
        guard !gateway.isEmpty || upstream.contains(where: { RateLimitHeaders.isUpstreamField($0.name) }) else {
            return [:]
        }
        var fields = HTTPFields()
        for field in upstream where RateLimitHeaders.isUpstreamField(field.name) {
            fields.append(field)
        }
        if !gateway.isEmpty {
            fields = RateLimitHeaders.merge(
                upstream: fields, gateway: gateway, upstreamName: upstreamName, nowUnixSeconds: DateHeader.unixSeconds()
            )
        }
        var headers = HTTPHeaders()
        for field in fields { headers.add(name: field.name.rawName, value: field.value) }
        return headers
    }

    /// RFC 9110 section 7.6.2: `OPTIONS` and `TRACE` with `Max-Forwards: 0` are answered here.
    private func answerMaxForwards(method: HTTPRequest.Method, exchange: Exchange, writer: ResponseWriter) async throws
    {
        var headers: HTTPHeaders = ["x-request-id": exchange.requestID, "date": DateHeader.now()]
        if method == .options {
            headers.add(name: "allow", value: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
            try await writer.write(ServerResponse(status: .ok, headers: headers, body: ByteBuffer()))
            return
        }
        // TRACE echoes the request it received, minus credentials (RFC 9110 section 9.3.8 advises against
        // reflecting sensitive fields).
        var echo = "TRACE \(exchange.request.target) HTTP/1.1\r\n"
        for (name, value) in exchange.request.head.headers {
            let lower = name.lowercased()
            if lower == "authorization" || lower == "cookie" || lower == "proxy-authorization" { continue }
            echo += "\(name): \(value)\r\n"
        }
        echo += "\r\n"
        headers.add(name: "content-type", value: "message/http")
        try await writer.write(ServerResponse(status: .ok, headers: headers, body: ByteBuffer(string: echo)))
    }

    /// Answers a request the gateway stops (or whose upstream leg failed) with its envelope.
    private func refuse(_ refusal: Refusal, exchange: Exchange, writer: ResponseWriter) async throws {
        let document = ProblemDocument(
            code: refusal.code, status: refusal.status, detail: refusal.detail, instance: String(exchange.path),
            requestID: exchange.requestID, source: .gateway, upstream: refusal.upstream.map { .init(name: $0) },
            retryAfter: refusal.retryAfter)
        try await self.send(document, exchange: exchange, writer: writer, headers: refusal.headers)
    }

    /// Sends an envelope and counts it.
    private func send(
        _ document: ProblemDocument, exchange: Exchange, writer: ResponseWriter, headers: HTTPHeaders = [:]
    ) async throws {
        exchange.notes.code = document.code.rawValue
        self.metrics.errorNormalized(
            source: document.source.rawValue, upstream: document.upstream?.name ?? "none", code: document.code.rawValue)
        let response = ProblemResponse.make(
            document, typeBase: exchange.snapshot.configuration.errors.typeBase, accept: exchange.accept,
            extraHeaders: headers)
        try await writer.write(response)
    }

    /// The client's `X-Request-ID` when it is acceptable (SPEC section 5), else a new one.
    static func requestID(for headers: HTTPHeaders) -> String {
        if let incoming = headers.first(name: "x-request-id"), RequestID.isAcceptable(incoming) {
            return incoming
        }
        var random = RequestIDRandom()
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
        self.metrics.errorNormalized(source: "gateway", upstream: "none", code: code.rawValue)
        self.metrics.requestFinished(
            route: "unmatched", method: head?.method.rawValue ?? "OTHER", status: refusal.status, duration: .zero)
        let response = ProblemResponse.make(
            document, typeBase: snapshot.configuration.errors.typeBase, accept: head?.headers["accept"] ?? [])
        if snapshot.configuration.server.accessLog {
            self.accessLog?.refused(
                status: refusal.status, code: code.rawValue, requestID: requestID, method: head?.method.rawValue,
                path: path, remoteAddress: remoteAddress, bytesOut: response.body.readableBytes)
        }
        return response
    }
}
