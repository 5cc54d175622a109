import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Serves one connection: collects each request, records it, asks ``ResponsePlan`` what to answer and
/// carries the plan out (delays, streaming with backpressure, raw bytes, resets).
///
/// Requests are answered one at a time; a pipelined request that arrives while a response is being written
/// waits in `queued` until it is done.
final class SimulatorConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The name of the `HTTPResponseEncoder` in the pipeline: raw bytes are written from its context, so they
    /// pass below it, untouched.
    static let encoderName = "vendor-sim-encoder"
    /// Streamed bodies are written in chunks of this size.
    static let chunkSize = 64 * 1024
    /// One chunk of the pattern, shared (read-only) by every stream: slicing it allocates nothing.
    private static let chunk: ByteBuffer = {
        var buffer = ByteBufferAllocator().buffer(capacity: chunkSize)
        let pattern = VendorSimulator.streamedBodyPattern
        for _ in 0..<(chunkSize / pattern.count) {
            buffer.writeBytes(pattern)
        }
        return buffer
    }()

    private enum State {
        case idle
        case receiving(HTTPRequestHead, [UInt8])
        case responding
        case hanging
        case closed
    }

    private struct Stream {
        var remaining: Int64
        var keepAlive: Bool
        var bodyDelay: Duration?
        var waiting = false
    }

    private let state: SimulatorState
    private var connectionState: State = .idle
    private var queued: [HTTPServerRequestPart] = []
    private var stream: Stream?

    init(state: SimulatorState) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.receive(context: context, part: self.unwrapInboundIn(data))
    }

    private func receive(context: ChannelHandlerContext, part: HTTPServerRequestPart) {
        switch (self.connectionState, part) {
        case (.responding, _):
            self.queued.append(part)
        case (.hanging, _), (.closed, _):
            break
        case (.idle, .head(let head)), (.receiving, .head(let head)):
            self.connectionState = .receiving(head, [])
        case (.receiving(let head, var body), .body(let buffer)):
            self.connectionState = .responding  // drop the array's other reference before appending
            let room = SimulatorState.bodyRecordLimit - body.count
            if room > 0 {
                body += buffer.readableBytesView.prefix(room)
            }
            self.connectionState = .receiving(head, body)
        case (.receiving(let head, let body), .end):
            self.connectionState = .responding
            self.handle(context: context, head: head, body: body)
        case (.idle, .body), (.idle, .end):
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connectionState = .closed
        self.stream = nil
        self.queued = []
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request the parser refuses: nothing sensible to answer, close.
        self.connectionState = .closed
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, self.stream != nil {
            self.pump(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Deciding

    private func handle(context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        let headers = head.headers.map { (name: $0.name, value: $0.value) }
        let request = RecordedRequest(method: head.method.rawValue, target: head.uri, headers: headers, body: body)
        self.state.record(request)

        let (path, query) = RecordedRequest.split(target: head.uri)
        let script = Result { () throws(SimulatorScript.InvalidParameter) in
            try SimulatorScript.parse(query: query, headers: headers)
        }
        var failing = false
        if case .success(let parsed) = script, let count = parsed.fail {
            let key = parsed.failKey ?? "\(head.method.rawValue) \(path)"
            failing = self.state.nextFailureOrdinal(key: key) <= count
        }
        let plan = ResponsePlan.make(
            request: request, script: script, failing: failing, unixTime: VendorSimulator.unixTime()
        )
        let parsed = try? script.get()
        let delay = parsed?.delay ?? .zero
        let bodyDelay = parsed?.bodyDelay
        let keepAlive = head.isKeepAlive
        let isHead = head.method == .HEAD

        if delay > .zero {
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) {
                guard case .responding = self.connectionState else { return }
                self.execute(
                    context: context, plan: plan, version: head.version, keepAlive: keepAlive, isHead: isHead,
                    bodyDelay: bodyDelay
                )
            }
        } else {
            self.execute(
                context: context, plan: plan, version: head.version, keepAlive: keepAlive, isHead: isHead,
                bodyDelay: bodyDelay
            )
        }
    }

    // MARK: Doing

    private func execute(
        context: ChannelHandlerContext,
        plan: ResponsePlan,
        version: HTTPVersion,
        keepAlive: Bool,
        isHead: Bool,
        bodyDelay: Duration?
    ) {
        switch plan {
        case .hang:
            self.connectionState = .hanging
        case .close:
            self.connectionState = .closed
            context.close(promise: nil)
        case .reset:
            self.connectionState = .closed
            // SO_LINGER with a zero timeout turns close() into an RST (the request was read in full, so no
            // unread data is left to confuse the picture).
            if let provider = context.channel as? any SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            } else {
                context.close(promise: nil)
            }
        case .raw(let bytes):
            self.connectionState = .closed
            self.writeRaw(context: context, bytes: bytes)
        case .respond(let answer):
            self.respond(
                context: context, answer: answer, version: version, keepAlive: keepAlive, isHead: isHead,
                bodyDelay: bodyDelay
            )
        case .stream(let status, let headers, let size, let chunked):
            var head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status))
            for (name, value) in headers {
                head.headers.add(name: name, value: value)
            }
            if !chunked {
                head.headers.add(name: "Content-Length", value: String(size))
            }
            if !keepAlive {
                head.headers.add(name: "Connection", value: "close")
            }
            context.writeAndFlush(self.wrapOutboundOut(.head(head)), promise: nil)
            self.stream = Stream(remaining: isHead ? 0 : size, keepAlive: keepAlive, bodyDelay: bodyDelay)
            self.pump(context: context)
        }
    }

    /// Writes bytes below the HTTP encoder, then closes.
    private func writeRaw(context: ChannelHandlerContext, bytes: [UInt8]) {
        let buffer = context.channel.allocator.buffer(bytes: bytes)
        guard let encoderContext = try? context.pipeline.syncOperations.context(name: Self.encoderName) else {
            context.close(promise: nil)
            return
        }
        encoderContext.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func respond(
        context: ChannelHandlerContext,
        answer: VendorEndpoints.Answer,
        version: HTTPVersion,
        keepAlive: Bool,
        isHead: Bool,
        bodyDelay: Duration?
    ) {
        var head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: answer.status))
        for (name, value) in answer.headers {
            head.headers.add(name: name, value: value)
        }
        let bodyAllowed = answer.status != 204 && answer.status != 304 && answer.status >= 200
        if bodyAllowed {
            head.headers.add(name: "Content-Length", value: String(answer.body.count))
        }
        if !keepAlive {
            head.headers.add(name: "Connection", value: "close")
        }
        let body = bodyAllowed && !isHead ? answer.body : []
        let finish: () -> Void = {
            if !body.isEmpty {
                context.write(
                    self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))),
                    promise: nil
                )
            }
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { result in
                self.responseDone(context: context, keepAlive: keepAlive, succeeded: (try? result.get()) != nil)
            }
        }
        if let bodyDelay, bodyDelay > .zero, !body.isEmpty {
            context.writeAndFlush(self.wrapOutboundOut(.head(head)), promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(bodyDelay)) {
                guard case .responding = self.connectionState else { return }
                finish()
            }
        } else {
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            finish()
        }
    }

    /// Writes chunks of a streamed body while the channel is writable; resumes on writability or, with a
    /// `body_delay`, after the delay once the previous chunk was written. Never more than one chunk waits
    /// beyond the channel's high-water mark, so any size streams in bounded memory.
    private func pump(context: ChannelHandlerContext) {
        while var stream = self.stream, !stream.waiting, stream.remaining > 0, context.channel.isWritable {
            let length = Int(min(stream.remaining, Int64(Self.chunkSize)))
            let chunk = Self.chunk.getSlice(at: Self.chunk.readerIndex, length: length)!
            stream.remaining -= Int64(length)
            let pause = stream.bodyDelay.map { $0 > .zero && stream.remaining > 0 } ?? false
            stream.waiting = pause
            self.stream = stream
            let written = context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(chunk))))
            written.assumeIsolated().whenComplete { result in
                switch result {
                case .failure:
                    self.stream = nil
                    context.close(promise: nil)
                case .success where pause:
                    context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(stream.bodyDelay ?? .zero)) {
                        guard self.stream != nil else { return }
                        self.stream?.waiting = false
                        self.pump(context: context)
                    }
                case .success:
                    break
                }
            }
        }
        if let stream = self.stream, stream.remaining == 0 {
            self.stream = nil
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { result in
                self.responseDone(
                    context: context, keepAlive: stream.keepAlive, succeeded: (try? result.get()) != nil
                )
            }
        }
    }

    private func responseDone(context: ChannelHandlerContext, keepAlive: Bool, succeeded: Bool) {
        guard succeeded, keepAlive, case .responding = self.connectionState else {
            self.connectionState = .closed
            context.close(promise: nil)
            return
        }
        self.connectionState = .idle
        let parts = self.queued
        self.queued = []
        for part in parts {
            self.receive(context: context, part: part)
        }
    }
}
