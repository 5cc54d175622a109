import Glibc
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A tiny raw-TCP upstream for end-to-end tests that need what a well-behaved HTTP server never sends (hop-by-hop
/// response headers, an endless body) or need to watch its connections open and close.
///
/// Each complete request (head, plus a `Content-Length` body) is handed to the behaviour closure, which says what
/// to do with the connection.
public final class StubUpstream: Sendable {
    /// What the stub does with one request.
    public enum Behaviour: Sendable {
        /// Writes these bytes and keeps the connection open for the next request.
        case respond([UInt8])
        /// Writes these bytes and closes.
        case respondAndClose([UInt8])
        /// Sends a 200 head with a huge `Content-Length`, then 64 KiB chunks for as long as the peer reads.
        case streamForever
        /// Reads the request and never answers.
        case hold
    }

    /// A request as the stub received it.
    public struct Request: Sendable {
        /// The head, request line included, without the final CRLF CRLF.
        public var head: String
        public var body: [UInt8]

        /// The request line, e.g. `GET /x HTTP/1.1`.
        public var requestLine: String { String(self.head.split(separator: "\r\n", maxSplits: 1).first ?? "") }

        /// The first value of a header (case-insensitive).
        public func header(_ name: String) -> String? {
            for line in self.head.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                if line[..<colon].lowercased() == name.lowercased() {
                    return String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
                }
            }
            return nil
        }
    }

    struct Counters {
        var accepted = 0
        var open = 0
        var closed = 0
        var requests: [Request] = []
        var bytesStreamed: Int64 = 0
        var streamsPaused = 0
    }

    private let channel: any Channel
    let counters = NIOLockedValueBox(Counters())
    let behaviour: @Sendable (Request) -> Behaviour
    let children = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    /// The bound port.
    public let port: Int

    private init(channel: any Channel, port: Int, behaviour: @escaping @Sendable (Request) -> Behaviour) {
        self.channel = channel
        self.port = port
        self.behaviour = behaviour
    }

    /// Binds 127.0.0.1:0 and serves with `behaviour`.
    public static func start(_ behaviour: @escaping @Sendable (Request) -> Behaviour) async throws -> StubUpstream {
        let box = NIOLockedValueBox<StubUpstream?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    guard let stub = box.withLockedValue({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try child.pipeline.syncOperations.addHandler(StubHandler(stub: stub))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let stub = StubUpstream(channel: channel, port: channel.localAddress?.port ?? 0, behaviour: behaviour)
        box.withLockedValue { $0 = stub }
        return stub
    }

    /// Stops listening and closes every connection.
    public func shutdown() async {
        try? await self.channel.close()
        for child in self.children.withLockedValue({ Array($0.values) }) {
            try? await child.close()
        }
    }

    /// Connections accepted so far.
    public var acceptedConnections: Int { self.counters.withLockedValue { $0.accepted } }
    /// Connections open now.
    public var openConnections: Int { self.counters.withLockedValue { $0.open } }
    /// Connections closed so far (by either side).
    public var closedConnections: Int { self.counters.withLockedValue { $0.closed } }
    /// Requests received, oldest first.
    public var requests: [Request] { self.counters.withLockedValue { $0.requests } }
    /// Body bytes written by `.streamForever` responses.
    public var bytesStreamed: Int64 { self.counters.withLockedValue { $0.bytesStreamed } }
    /// `.streamForever` responses paused now because their connection takes no more (its reader stopped reading).
    public var streamsPaused: Int { self.counters.withLockedValue { $0.streamsPaused } }

    /// Waits until the one `.streamForever` response has stopped: its connection takes no more and no byte was
    /// written between two polls. Returns the bytes streamed by then, or nil if it kept streaming until `timeout`.
    ///
    /// Counted, not timed: a reader that keeps reading never lets the stream pause for a whole poll. Under load a
    /// slow reader may look paused a little early; a test asserting that the figure stays below a bound still holds.
    public func streamPlateau(within timeout: Duration = .seconds(15)) async -> Int64? {
        var previous: Int64 = -1
        let paused = await eventually(within: timeout, pollingEvery: .milliseconds(100)) {
            let streamed = self.bytesStreamed
            defer { previous = streamed }
            return self.streamsPaused == 1 && streamed == previous
        }
        return paused ? self.bytesStreamed : nil
    }
}

/// One stub connection: splits requests, applies the behaviour.
private final class StubHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let stub: StubUpstream
    private var buffer: [UInt8] = []
    private var streaming = false
    private var paused = false
    private var holding = false
    private static let chunk = ByteBuffer(repeating: UInt8(ascii: "s"), count: 64 * 1024)

    init(stub: StubUpstream) {
        self.stub = stub
    }

    func channelActive(context: ChannelHandlerContext) {
        let id = ObjectIdentifier(context.channel)
        self.stub.children.withLockedValue { $0[id] = context.channel }
        self.stub.counters.withLockedValue {
            $0.accepted += 1
            $0.open += 1
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let id = ObjectIdentifier(context.channel)
        self.stub.children.withLockedValue { _ = $0.removeValue(forKey: id) }
        self.stub.counters.withLockedValue {
            $0.open -= 1
            $0.closed += 1
        }
        self.streaming = false
        self.setPaused(false)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let incoming = self.unwrapInboundIn(data)
        self.buffer += incoming.readableBytesView
        while !self.streaming, !self.holding, let request = self.nextRequest() {
            self.stub.counters.withLockedValue { $0.requests.append(request) }
            switch self.stub.behaviour(request) {
            case .respond(let bytes):
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
            case .respondAndClose(let bytes):
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: bytes))).assumeIsolated().whenComplete {
                    _ in
                    context.close(promise: nil)
                }
                return
            case .streamForever:
                self.streaming = true
                let head =
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    + "Content-Length: 1099511627776\r\n\r\n"
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: head)), promise: nil)
                self.pump(context: context)
            case .hold:
                self.holding = true
            }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if self.streaming { self.pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    private func pump(context: ChannelHandlerContext) {
        while self.streaming, context.channel.isWritable {
            let count = Int64(Self.chunk.readableBytes)
            self.stub.counters.withLockedValue { $0.bytesStreamed += count }
            context.writeAndFlush(self.wrapOutboundOut(Self.chunk), promise: nil)
        }
        self.setPaused(self.streaming && !context.channel.isWritable)
    }

    private func setPaused(_ paused: Bool) {
        guard paused != self.paused else { return }
        self.paused = paused
        self.stub.counters.withLockedValue { $0.streamsPaused += paused ? 1 : -1 }
    }

    /// The next complete request in the buffer (Content-Length bodies only), consumed.
    private func nextRequest() -> StubUpstream.Request? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard self.buffer.count >= 4 else { return nil }
        var end: Int?
        for index in 0...(self.buffer.count - 4) where self.buffer[index] == 13 {
            if Array(self.buffer[index..<index + 4]) == separator {
                end = index
                break
            }
        }
        guard let headEnd = end else { return nil }
        let head = String(decoding: self.buffer[0..<headEnd], as: UTF8.self)
        var request = StubUpstream.Request(head: head, body: [])
        let length = request.header("content-length").flatMap { Int($0) } ?? 0
        guard self.buffer.count >= headEnd + 4 + length else { return nil }
        request.body = Array(self.buffer[(headEnd + 4)..<(headEnd + 4 + length)])
        self.buffer.removeFirst(headEnd + 4 + length)
        return request
    }
}

/// A port on 127.0.0.1 that refuses connections for as long as this object lives: a socket bound to it but never
/// listening, so connects get RST (connection refused) and no other test can bind the port meanwhile.
public final class RefusingPort: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic -> Int32 in
                guard bind(descriptor, generic, length) == 0 else { return -1 }
                return getsockname(descriptor, generic, &length)
            }
        }
        guard bound == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw IOError(errnoCode: code, reason: "bind")
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        Glibc.close(self.descriptor)
    }
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed). Another socket may take it
/// before the caller binds it: use only where a bind failure can be retried.
public func freeLoopbackPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 1
    try await channel.close()
    return port
}
