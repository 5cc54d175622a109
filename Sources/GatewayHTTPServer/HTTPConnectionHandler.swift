import Logging
import NIOCore
import NIOHTTP1

/// Serves the requests of one client connection: the last handler of its pipeline, after the HTTP codec.
///
/// ``HTTPConnectionStateMachine`` decides; this handler carries the decisions out on the channel's event loop:
/// it answers refusals itself, and runs the responder for each complete request in a task that prefers the
/// channel's event loop, started at once (`Task.immediateDetached`), so a request that needs no I/O is answered
/// within the read that brought it. The response is written straight into the pipeline by the request's
/// ``ResponseWriter`` — no stream or writer between the task and the channel. What a client sends while a response
/// is in progress (a pipelined request) is kept, and the channel's reads are held until the response has ended; the
/// kept parts are then served in order, so pipelined requests are answered in order.
///
/// A client that goes away cancels its request's task at once (`channelInactive`), and with it the upstream transfer.
final class HTTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Inbound {
        case part(HTTPServerRequestPart)
        case error(any Error)
    }

    private var machine: HTTPConnectionStateMachine
    private let responder: any HTTPResponder
    /// Nil when the connection is over the limit and only gets a refusal.
    private let entry: ConnectionRegistry.Entry?
    private let logger: Logger
    private let executor: EventLoopTaskExecutor
    /// Where a complete response with a settled length is written as bytes (``SerializedResponse``); nil: always
    /// through the encoder.
    private let connectionGuard: ConnectionGuardHandler?
    private var context: ChannelHandlerContext?
    private var remoteAddress: SocketAddress?
    /// `remoteAddress` as text, formatted once for all the connection's requests.
    private var peerIP: String?
    private var isActive = false

    /// Parts and errors decoded while a response was in progress, fed in again after it.
    private var queued = CircularBuffer<Inbound>()
    /// A `read` arrived while a response was in progress; it is issued when the response ends.
    private var readHeld = false
    /// The task running the responder, and which request it serves (a task may end before its handle is stored).
    private var responseTask: Task<Void, Never>?
    private var requestNumber = 0
    /// A writer waiting for the channel to become writable again.
    private var writabilityWaiter: CheckedContinuation<Void, any Error>?

    init(
        configuration: HTTPServerConfiguration, responder: any HTTPResponder, entry: ConnectionRegistry.Entry?,
        connectionGuard: ConnectionGuardHandler?, executor: EventLoopTaskExecutor, logger: Logger
    ) {
        self.connectionGuard = connectionGuard
        self.machine = HTTPConnectionStateMachine(
            maxHeaderBytes: configuration.maxHeaderBytes, maxBodyBytes: configuration.maxBodyBytes)
        self.responder = responder
        self.entry = entry
        self.executor = executor
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.becameActive(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.becameActive(context: context)
        context.fireChannelActive()
    }

    private func becameActive(context: ChannelHandlerContext) {
        guard !self.isActive else { return }
        self.isActive = true
        self.remoteAddress = context.channel.remoteAddress
        self.peerIP = self.remoteAddress?.ipAddress
        if self.entry == nil {
            self.perform(.refuse(.tooManyConnections, head: nil), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.isActive = false
        self.machine.close()
        self.queued.removeAll()
        self.responseTask?.cancel()
        self.responseTask = nil
        self.writabilityWaiter.take()?.resume(throwing: ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        if self.machine.isResponding {
            self.queued.append(.part(part))
            return
        }
        self.handle(.part(part), context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.machine.isResponding {
            self.queued.append(.error(error))
            return
        }
        self.handle(.error(error), context: context)
    }

    func read(context: ChannelHandlerContext) {
        // Reading on while a response is in progress costs nothing for a client that waits for it; one that
        // pipelines has its reads held as soon as something is queued, so it cannot make the gateway buffer more than
        // the reads of one loop tick. (Holding reads always would cost two `epoll_ctl` calls per request.)
        if self.machine.isResponding, !self.queued.isEmpty {
            self.readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.writabilityWaiter.take()?.resume()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: requests

    private func handle(_ inbound: Inbound, context: ChannelHandlerContext) {
        switch inbound {
        case .part(let part):
            if self.machine.isIdle, !(self.entry?.beginRequest() ?? false) {
                // Draining: a connection that was waiting for a request closes instead of starting one.
                self.machine.close()
                self.closeAfterFlush(context: context)
                return
            }
            let action = self.machine.receive(
                part, remoteAddress: self.remoteAddress, peerIP: self.peerIP, now: .now,
                draining: self.entry?.isDraining ?? true)
            self.perform(action, context: context)
        case .error(let error):
            self.perform(self.machine.receive(error: error), context: context)
        }
    }

    private func perform(_ action: HTTPConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .writeContinue:
            let head = HTTPResponseHead(version: .http1_1, status: .continue)
            context.writeAndFlush(self.wrapOutboundOut(.head(head)), promise: nil)
        case .respond(let request, let keepAlive):
            self.startResponse(request, keepAlive: keepAlive, context: context)
        case .refuse(let refusal, let head):
            self.writeRefusal(refusal, head: head, context: context)
            self.closeAfterFlush(context: context)
        case .closeQuietly:
            self.closeAfterFlush(context: context)
        }
    }

    private func startResponse(_ request: ServerRequest, keepAlive: Bool, context: ChannelHandlerContext) {
        self.requestNumber &+= 1
        let number = self.requestNumber
        let writer = ResponseWriter(
            sink: ResponseSink(handler: self, eventLoop: context.eventLoop),
            isHeadRequest: request.head.method == .HEAD, closeAfterResponse: !keepAlive, connection: self.entry)
        let responder = self.responder
        let finish = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let task = Task.immediateDetached(executorPreference: self.executor) {
            let failure: (any Error)?
            do {
                try await responder.respond(to: request, writer: writer)
                failure = nil
            } catch {
                failure = error
            }
            if eventLoop.inEventLoop {
                finish.value.responseFinished(number, writer: writer, failure: failure)
            } else {
                eventLoop.execute { finish.value.responseFinished(number, writer: writer, failure: failure) }
            }
        }
        // The task may have finished (and the next request started) before `immediateDetached` returned.
        if self.requestNumber == number, self.machine.isResponding {
            self.responseTask = task
        }
    }

    private func responseFinished(_ number: Int, writer: ResponseWriter, failure: (any Error)?) {
        guard number == self.requestNumber, let context = self.context else { return }
        self.responseTask = nil
        guard self.machine.isResponding else { return }  // the client left meanwhile
        if let failure {
            if writer.state == .nothingWritten {
                self.logger.error("responder failed before a response head", metadata: ["error": "\(failure)"])
                self.perform(self.machine.responderFailedBeforeHead(), context: context)
            } else {
                // A head is out: the only honest failure is closing, so the client sees the body is incomplete.
                self.logger.debug("response aborted", metadata: ["error": "\(failure)"])
                self.machine.close()
                self.closeAfterFlush(context: context)
            }
            return
        }
        let next = self.machine.responseFinished(
            ended: writer.state == .ended, keepAlive: !writer.closeAfterResponse,
            draining: self.entry?.isDraining ?? true)
        guard next == .readNext, self.entry?.readyForNextRequest() ?? false else {
            self.machine.close()
            self.closeAfterFlush(context: context)
            return
        }
        while !self.machine.isResponding, !self.machine.isClosed, let inbound = self.queued.popFirst() {
            self.handle(inbound, context: context)
        }
        if self.readHeld, !self.machine.isResponding {
            self.readHeld = false
            context.read()
        }
    }

    private func writeRefusal(_ refusal: ServerRefusal, head: HTTPRequestHead?, context: ChannelHandlerContext) {
        var response = self.responder.response(for: refusal, head: head, remoteAddress: self.remoteAddress)
        response.headers.replaceOrAdd(name: "connection", value: "close")
        let (headers, body) = response.framed(isHeadRequest: head?.method == .HEAD)
        let responseHead = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        if head?.method == .CONNECT {
            // NIO's encoder drops the body of every response to CONNECT, yet only a 2xx answer to CONNECT has none
            // (RFC 9110 section 9.3.6): the refusal goes out as bytes, below the encoder, so the client gets the
            // envelope like any other. The connection closes after it.
            let bytes = RawResponse.serialize(responseHead, body: body ?? ByteBuffer())
            context.triggerUserOutboundEvent(RawResponse(bytes: bytes), promise: nil)
            return
        }
        // Throws only when the client has gone already; the connection is closed after this either way.
        try? self.send(responseHead, body, end: true)
    }

    /// Closes once what was written has left: the output first (its promise completes after pending writes), then
    /// the whole channel.
    private func closeAfterFlush(context: ChannelHandlerContext) {
        self.machine.close()
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: promise)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in
            loopBound.value.close(promise: nil)
        }
    }

    // MARK: writes (called by ``ResponseSink`` on the event loop)

    /// Writes parts of the current response and flushes them; throws when the client has gone.
    fileprivate func send(_ head: HTTPResponseHead?, _ body: ByteBuffer?, end: Bool) throws {
        guard self.isActive, let context = self.context else { throw ChannelError.ioOnClosedChannel }
        if let head, end, let connectionGuard = self.connectionGuard,
            let serialized = SerializedResponse.serialize(
                head, bodyBytes: body?.readableBytes ?? 0, body: body, allocator: context.channel.allocator),
            connectionGuard.writeSerializedResponse(serialized.bytes, then: serialized.bodyIncluded ? nil : body)
        {
            return
        }
        if let head { context.write(self.wrapOutboundOut(.head(head)), promise: nil) }
        if let body { context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        if end { context.write(self.wrapOutboundOut(.end(nil)), promise: nil) }
        context.flush()
    }

    /// Writes a head, several body parts and the end, and flushes them; throws when the client has gone.
    fileprivate func send(_ head: HTTPResponseHead, _ parts: [ByteBuffer]) throws {
        guard self.isActive, let context = self.context else { throw ChannelError.ioOnClosedChannel }
        // The parts follow the head as they are (`body: nil`: none is copied after it).
        if let connectionGuard = self.connectionGuard,
            let serialized = SerializedResponse.serialize(
                head, bodyBytes: parts.reduce(0) { $0 + $1.readableBytes }, body: nil,
                allocator: context.channel.allocator),
            connectionGuard.writeSerializedResponse(serialized.bytes, then: nil, parts)
        {
            return
        }
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        for part in parts where part.readableBytes > 0 {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(part))), promise: nil)
        }
        context.write(self.wrapOutboundOut(.end(nil)), promise: nil)
        context.flush()
    }

    /// Whether a writer must wait before writing more (the channel's buffer is above its high watermark).
    fileprivate var mustWaitForWritability: Bool {
        guard self.isActive, let context = self.context else { return false }
        return !context.channel.isWritable
    }

    fileprivate func waitForWritability(_ continuation: CheckedContinuation<Void, any Error>) {
        guard self.isActive, let context = self.context else {
            continuation.resume(throwing: ChannelError.ioOnClosedChannel)
            return
        }
        if context.channel.isWritable {
            continuation.resume()
            return
        }
        self.writabilityWaiter.take()?.resume(throwing: ChannelError.ioOnClosedChannel)
        self.writabilityWaiter = continuation
    }
}

/// Where a ``ResponseWriter`` writes: its connection's handler, reached on the channel's event loop (directly when
/// the writing task already runs there, as it does with its executor preference).
struct ResponseSink: @unchecked Sendable {
    // @unchecked Sendable: the handler is touched only on `eventLoop` (checked on every call).
    private let handler: HTTPConnectionHandler
    private let eventLoop: any EventLoop

    fileprivate init(handler: HTTPConnectionHandler, eventLoop: any EventLoop) {
        self.handler = handler
        self.eventLoop = eventLoop
    }

    /// Writes and flushes parts of a response, then waits while the channel is not writable (backpressure).
    func send(_ head: HTTPResponseHead?, _ body: ByteBuffer?, end: Bool) async throws {
        guard self.eventLoop.inEventLoop else {
            return try await self.sendFromElsewhere { try $0.send(head, body, end: end) }
        }
        try self.handler.send(head, body, end: end)
        if self.handler.mustWaitForWritability { try await self.waitForWritability() }
    }

    /// Writes and flushes a whole response of several body parts, then waits while the channel is not writable.
    func send(_ head: HTTPResponseHead, _ parts: [ByteBuffer]) async throws {
        guard self.eventLoop.inEventLoop else {
            return try await self.sendFromElsewhere { try $0.send(head, parts) }
        }
        try self.handler.send(head, parts)
        if self.handler.mustWaitForWritability { try await self.waitForWritability() }
    }

    /// The same from a task that does not run on the channel's event loop: the write hops there.
    private func sendFromElsewhere(_ write: @escaping @Sendable (HTTPConnectionHandler) throws -> Void) async throws {
        let sink = self
        let mustWait = try await self.eventLoop.submit {
            try write(sink.handler)
            return sink.handler.mustWaitForWritability
        }.get()
        if mustWait { try await self.waitForWritability() }
    }

    private func waitForWritability() async throws {
        let sink = self
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            if sink.eventLoop.inEventLoop {
                sink.handler.waitForWritability(continuation)
            } else {
                sink.eventLoop.execute { sink.handler.waitForWritability(continuation) }
            }
        }
    }
}
