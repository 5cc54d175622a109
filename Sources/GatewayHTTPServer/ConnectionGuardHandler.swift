import NIOCore
import NIOHTTP1

/// Raised into the pipeline when a request head or body does not arrive in time; the connection answers 408.
public struct RequestTimeoutError: Error, Hashable, Sendable {
    public init() {}
}

/// Raised into the pipeline when a request head grows past `max_header_bytes` before it is complete; the
/// connection answers 414 when the request line alone is that long, else 431.
public struct RequestHeadTooLargeError: Error, Hashable, Sendable {
    /// The request line (method, target, version) was not complete yet.
    public var requestLineTooLong: Bool
}

/// Raised into the pipeline when a chunk extension is longer than `maxChunkExtensionBytes`; the connection
/// answers 400 and closes.
public struct ChunkExtensionTooLongError: Error, Hashable, Sendable {
    public var limit: Int
}

/// A response already serialized, written below the HTTP encoder by ``ConnectionGuardHandler`` (sent as an
/// outbound user event). Only for what the encoder would mangle: the refusal of a `CONNECT`, whose body NIO's
/// encoder drops although only a 2xx answer to CONNECT has none.
struct RawResponse: Sendable {
    var bytes: ByteBuffer

    /// `HTTP/1.1 <status>`, the fields, an empty line, the body.
    static func serialize(_ head: HTTPResponseHead, body: ByteBuffer) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)\r\n")
        for (name, value) in head.headers {
            buffer.writeString("\(name): \(value)\r\n")
        }
        buffer.writeString("\r\n")
        var body = body
        buffer.writeBuffer(&body)
        return buffer
    }
}

/// Guards a connection where the HTTP decoder cannot: sits in front of it and sees every byte, to enforce
/// - the connection's deadlines (``ConnectionTimeouts``: idle, slow head, slow body);
/// - the size of a request head (llhttp does not count the request target against its header limits);
/// - the length of chunk extensions (llhttp does not bound them; see ``RequestFramingScanner``);
///
/// and writes the rare ``RawResponse`` below the encoder.
///
/// One timer per connection, moved lazily: arming a deadline later than the scheduled timer only records it (the
/// timer, when it fires early, re-arms itself for the recorded deadline), and cancelling only forgets it. So a
/// keep-alive connection schedules a timer about once per `request_header_timeout`, not three times per request
/// (a scheduled task costs allocations and a heap insertion and removal on the event loop).
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: ConnectionTimeouts
    /// The timer as scheduled, and when it fires (nil: none scheduled).
    private var timer: Scheduled<Void>?
    private var timerFiresAt: NIODeadline?
    /// The deadline in force and the phase it was armed in (nil: none).
    private var armed: (deadline: NIODeadline, phase: ConnectionTimeouts.Phase)?
    /// This handler's context while it is in a pipeline, for the calls ``RequestLifecycleObserver`` makes.
    private var context: ChannelHandlerContext?
    private let maxHeadBytes: Int
    /// Bytes of the head being read, and whether its request line is complete.
    private var headBytes = 0
    private var sawRequestLineEnd = false
    private var headOverflowReported = false
    private var framing: RequestFramingScanner
    /// The framing the decoder reported for the head just handed to it, while a read is being delivered.
    private var reportedFraming: RequestFramingScanner.BodyFraming?

    init(
        idleTimeout: Duration, requestTimeout: Duration, bodyTimeout: Duration = .seconds(30),
        minBodyBytesPerSecond: Int = 1024, maxHeadBytes: Int, maxChunkExtensionBytes: Int = 4096
    ) {
        self.machine = ConnectionTimeouts(
            idleTimeout: TimeAmount(idleTimeout), requestTimeout: TimeAmount(requestTimeout),
            bodyTimeout: TimeAmount(bodyTimeout), minBodyBytesPerSecond: minBodyBytesPerSecond)
        self.maxHeadBytes = maxHeadBytes
        self.framing = RequestFramingScanner(maxExtensionBytes: maxChunkExtensionBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.perform(self.machine.start(), context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.cancelTimer()
    }

    func channelActive(context: ChannelHandlerContext) {
        self.perform(self.machine.start(), context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.cancelTimer()
        self.armed = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.perform(
            self.machine.handle(.bytesReceived(count: buffer.readableBytes, now: context.eventLoop.now)),
            context: context)
        let countsTowardsHead = self.machine.phase == .readingHead
        if countsTowardsHead {
            self.headBytes += buffer.readableBytes
            if !self.sawRequestLineEnd {
                self.sawRequestLineEnd = buffer.readableBytesView.contains(UInt8(ascii: "\n"))
            }
        }
        self.deliver(buffer, context: context)
        // The decoder ran synchronously: if the head is still incomplete, what it has read so far is all head.
        if countsTowardsHead, self.machine.phase == .readingHead, self.headBytes > self.maxHeadBytes,
            !self.headOverflowReported
        {
            self.headOverflowReported = true
            context.fireErrorCaught(RequestHeadTooLargeError(requestLineTooLong: !self.sawRequestLineEnd))
        }
    }

    /// Hands bytes to the decoder, split right after each head so the decoder reports the head's framing before
    /// the scanner reads the body.
    private func deliver(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        var rest = buffer
        while let piece = self.framing.nextPiece(of: &rest) {
            switch piece {
            case .bytes(let bytes, endsHead: false):
                context.fireChannelRead(self.wrapInboundOut(bytes))
            case .bytes(let head, endsHead: true):
                self.reportedFraming = nil
                context.fireChannelRead(self.wrapInboundOut(head))
                if let reported = self.reportedFraming {
                    self.framing.bodyStarted(reported)
                } else {
                    self.framing.framingUnknown()
                }
            case .chunkExtensionTooLong:
                context.fireErrorCaught(ChunkExtensionTooLongError(limit: self.framing.maxExtensionBytes))
                return
            }
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let raw = event as? RawResponse {
            context.writeAndFlush(self.wrapOutboundOut(raw.bytes), promise: promise)
            return
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    // MARK: reported by ``RequestLifecycleObserver`` (same event loop, direct calls)

    /// A head was decoded; its body is framed like this.
    func headReceived(framing: RequestFramingScanner.BodyFraming) {
        guard let context = self.context else { return }
        self.reportedFraming = framing
        self.headBytes = 0
        self.sawRequestLineEnd = false
        self.perform(self.machine.handle(.headReceived(now: context.eventLoop.now)), context: context)
    }

    func requestEnded() {
        guard let context = self.context else { return }
        self.perform(self.machine.handle(.requestEnded), context: context)
    }

    func responseEnded() {
        guard let context = self.context else { return }
        self.perform(self.machine.handle(.responseEnded), context: context)
    }

    /// Writes a whole response serialized by ``SerializedResponse`` (and the body parts that follow it) below the
    /// HTTP encoder, flushes, and ends the response as ``RequestLifecycleObserver`` would on its `end` part. False,
    /// with nothing written, when this handler is not in a pipeline: the caller then writes through the encoder.
    func writeSerializedResponse(_ bytes: ByteBuffer, then body: ByteBuffer?, _ parts: [ByteBuffer] = []) -> Bool {
        guard let context = self.context else { return false }
        context.write(self.wrapOutboundOut(bytes), promise: nil)
        if let body, body.readableBytes > 0 { context.write(self.wrapOutboundOut(body), promise: nil) }
        for part in parts where part.readableBytes > 0 {
            context.write(self.wrapOutboundOut(part), promise: nil)
        }
        context.flush()
        self.responseEnded()
        return true
    }

    private func perform(_ action: ConnectionTimeouts.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .cancelTimer:
            // The timer stays scheduled; finding nothing armed when it fires, it ends.
            self.armed = nil
        case .arm(let amount, let phase):
            let deadline = context.eventLoop.now + amount
            self.armed = (deadline, phase)
            if let firesAt = self.timerFiresAt, firesAt <= deadline { return }
            self.schedule(at: deadline, context: context)
        case .closeIdleConnection:
            context.close(promise: nil)
        case .failRequestTimeout:
            context.fireErrorCaught(RequestTimeoutError())
        }
    }

    private func schedule(at deadline: NIODeadline, context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timerFiresAt = deadline
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        self.timer = nil
        self.timerFiresAt = nil
        guard let armed = self.armed else { return }
        if context.eventLoop.now < armed.deadline {
            // Armed again after this timer was scheduled, for later: wait for that deadline.
            self.schedule(at: armed.deadline, context: context)
            return
        }
        self.armed = nil
        self.perform(self.machine.handle(.deadlineReached(armed.phase)), context: context)
    }

    private func cancelTimer() {
        self.timer?.cancel()
        self.timer = nil
        self.timerFiresAt = nil
    }
}

/// Sits after the HTTP decoder and reports request progress to the ``ConnectionGuardHandler`` of its pipeline,
/// by direct calls (both run on the channel's event loop).
final class RequestLifecycleObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let connectionGuard: ConnectionGuardHandler

    init(reportingTo connectionGuard: ConnectionGuardHandler) {
        self.connectionGuard = connectionGuard
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head): self.connectionGuard.headReceived(framing: Self.framing(of: head))
        case .body: break
        case .end: self.connectionGuard.requestEnded()
        }
        context.fireChannelRead(data)
    }

    /// How NIO's decoder frames the body after `head`: upgrades and CONNECT stop its parsing; any
    /// `Transfer-Encoding` is decoded as chunked (another coding is refused later with 501).
    static func framing(of head: HTTPRequestHead) -> RequestFramingScanner.BodyFraming {
        if head.method == .CONNECT || head.headers.contains(name: "upgrade") { return .unknown }
        if head.headers.contains(name: "transfer-encoding") { return .chunked }
        if let length = head.headers.first(name: "content-length") {
            return UInt64(length).map { .length($0) } ?? .unknown
        }
        return .none
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data) {
            context.write(data, promise: promise)
            self.connectionGuard.responseEnded()
        } else {
            context.write(data, promise: promise)
        }
    }
}
