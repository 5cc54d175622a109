import NIOHTTP1
import GatewayCore
import NIOCore

/// The deadlines of one connection as a value: which timer runs in which phase of a request (a pure state machine).
///
/// SwiftNIO's `IdleStateHandler` restarts on every byte, so a client trickling one byte a second is never idle.
/// These deadlines do not move with bytes where it matters:
/// - `idle` (no request started): `idle_timeout`, then the connection is closed quietly;
/// - `readingHead` (first byte seen, head not complete): `request_header_timeout` from the *first* byte, then 408;
/// - `readingBody`: `request_header_timeout` without any byte, then 408 (a stalled body);
/// - `processing` (request complete, response not finished): no deadline here; upstream timeouts bound it.
struct ConnectionTimeouts {
    enum Phase: Equatable {
        case idle
        case readingHead
        case readingBody
        case processing
    }

    enum Event {
        case bytesReceived
        case headReceived
        case requestEnded
        case responseEnded
        case deadlineReached(Phase)
    }

    enum Action: Equatable {
        case none
        /// (Re)arm the single timer for this long; it reports `deadlineReached` with the phase it was armed in.
        case arm(TimeAmount, Phase)
        case cancelTimer
        /// The connection has been idle too long: close it without a response.
        case closeIdleConnection
        /// The head or body did not arrive in time: answer 408 and close.
        case failRequestTimeout
    }

    private(set) var phase: Phase = .idle
    let idleTimeout: TimeAmount
    let requestTimeout: TimeAmount

    init(idleTimeout: TimeAmount, requestTimeout: TimeAmount) {
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
    }

    /// The action when the connection becomes active.
    func start() -> Action { .arm(self.idleTimeout, .idle) }

    mutating func handle(_ event: Event) -> Action {
        switch (self.phase, event) {
        case (.idle, .bytesReceived):
            self.phase = .readingHead
            return .arm(self.requestTimeout, .readingHead)
        case (.readingHead, .bytesReceived), (.processing, .bytesReceived):
            // The head's deadline runs from its first byte; bytes during processing are a pipelined request
            // that the next head event accounts for.
            return .none
        case (.readingBody, .bytesReceived):
            return .arm(self.requestTimeout, .readingBody)
        case (.idle, .headReceived), (.readingHead, .headReceived), (.processing, .headReceived):
            self.phase = .readingBody
            return .arm(self.requestTimeout, .readingBody)
        case (.readingBody, .headReceived):
            return .arm(self.requestTimeout, .readingBody)
        case (.readingBody, .requestEnded), (.readingHead, .requestEnded), (.idle, .requestEnded):
            self.phase = .processing
            return .cancelTimer
        case (.processing, .requestEnded):
            return .none
        case (_, .responseEnded):
            if self.phase == .readingBody {
                // Answered before the body was read (413, early error): the connection closes anyway.
                return .none
            }
            self.phase = .idle
            return .arm(self.idleTimeout, .idle)
        case (let current, .deadlineReached(let armed)):
            guard current == armed else { return .none }
            switch current {
            case .idle: return .closeIdleConnection
            case .readingHead, .readingBody: return .failRequestTimeout
            case .processing: return .none
            }
        }
    }
}

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

/// Signals from the request side of the pipeline to ``ConnectionTimeoutHandler``, sent as outbound user events.
enum RequestLifecycleEvent {
    /// A head was decoded; its body is framed like this.
    case headReceived(RequestFramingScanner.BodyFraming)
    case requestEnded
    case responseEnded
}

/// Sits in front of the HTTP decoder, sees every byte, drives ``ConnectionTimeouts``, bounds the size of a
/// request head (llhttp does not count the request target against its header limits) and the length of chunk
/// extensions (llhttp does not bound them; see ``RequestFramingScanner``).
final class ConnectionTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: ConnectionTimeouts
    private var timer: Scheduled<Void>?
    private let maxHeadBytes: Int
    /// Bytes of the head being read, and whether its request line is complete.
    private var headBytes = 0
    private var sawRequestLineEnd = false
    private var headOverflowReported = false
    private var framing: RequestFramingScanner
    /// The framing the decoder reported for the head just handed to it, while a read is being delivered.
    private var reportedFraming: RequestFramingScanner.BodyFraming?

    init(idleTimeout: Duration, requestTimeout: Duration, maxHeadBytes: Int, maxChunkExtensionBytes: Int = 4096) {
        self.machine = ConnectionTimeouts(
            idleTimeout: TimeAmount(idleTimeout), requestTimeout: TimeAmount(requestTimeout))
        self.maxHeadBytes = maxHeadBytes
        self.framing = RequestFramingScanner(maxExtensionBytes: maxChunkExtensionBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.perform(self.machine.start(), context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.perform(self.machine.start(), context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.perform(self.machine.handle(.bytesReceived), context: context)
        let countsTowardsHead = self.machine.phase == .readingHead
        if countsTowardsHead {
            let buffer = self.unwrapInboundIn(data)
            self.headBytes += buffer.readableBytes
            if !self.sawRequestLineEnd {
                self.sawRequestLineEnd = buffer.readableBytesView.contains(UInt8(ascii: "\n"))
            }
        }
        self.deliver(self.unwrapInboundIn(data), context: context)
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
        if self.framing.isDormant {
            context.fireChannelRead(self.wrapInboundOut(buffer))
            return
        }
        var rest = buffer
        while rest.readableBytes > 0 {
            let step = rest.withUnsafeReadableBytes { self.framing.scan($0) }
            switch step {
            case .needMore:
                context.fireChannelRead(self.wrapInboundOut(rest))
                return
            case .headEnded(let offset):
                let head = rest.readSlice(length: offset)!
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
        guard let lifecycle = event as? RequestLifecycleEvent else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch lifecycle {
        case .headReceived(let framing):
            self.reportedFraming = framing
            self.headBytes = 0
            self.sawRequestLineEnd = false
            self.perform(self.machine.handle(.headReceived), context: context)
        case .requestEnded: self.perform(self.machine.handle(.requestEnded), context: context)
        case .responseEnded: self.perform(self.machine.handle(.responseEnded), context: context)
        }
        promise?.succeed()
    }

    private func perform(_ action: ConnectionTimeouts.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .cancelTimer:
            self.timer?.cancel()
            self.timer = nil
        case .arm(let amount, let phase):
            self.timer?.cancel()
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            self.timer = context.eventLoop.scheduleTask(in: amount) {
                let (handler, context) = loopBound.value
                handler.timer = nil
                handler.perform(handler.machine.handle(.deadlineReached(phase)), context: context)
            }
        case .closeIdleConnection:
            context.close(promise: nil)
        case .failRequestTimeout:
            context.fireErrorCaught(RequestTimeoutError())
        }
    }
}

/// Sits after the HTTP decoder and reports request progress to ``ConnectionTimeoutHandler``.
final class RequestLifecycleObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            context.triggerUserOutboundEvent(RequestLifecycleEvent.headReceived(Self.framing(of: head)), promise: nil)
        case .body: break
        case .end: context.triggerUserOutboundEvent(RequestLifecycleEvent.requestEnded, promise: nil)
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
            context.triggerUserOutboundEvent(RequestLifecycleEvent.responseEnded, promise: nil)
        } else {
            context.write(data, promise: promise)
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        self = .nanoseconds(duration.nanosecondsClamped)
    }
}
