import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A client for large responses: it parses the head, then only counts body bytes (nothing is kept), and reads only
/// when asked, so a test can play a slow reader and let backpressure build up.
public final class CountingHTTPClient: Sendable {
    /// The response head once parsed.
    public struct Head: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]

        public func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    struct State {
        var headBytes: [UInt8] = []
        var head: Head?
        var bodyBytes: Int64 = 0
        /// The first bytes of the body, for a content check.
        var bodyPrefix: [UInt8] = []
        var eof = false
    }

    private let channel: any Channel
    private let state: NIOLockedValueBox<State>

    private init(channel: any Channel, state: NIOLockedValueBox<State>) {
        self.channel = channel
        self.state = state
    }

    /// Connects with automatic reading off.
    public static func connect(port: Int) async throws -> CountingHTTPClient {
        let state = NIOLockedValueBox(State())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 64 * 1024))
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CountingHandler(state: state))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return CountingHTTPClient(channel: channel, state: state)
    }

    public func send(_ text: String) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Asks the channel for one read (at most 64 KiB).
    public func readOnce() {
        self.channel.read()
    }

    /// Reads in `bytes`-sized reads from now on (one read per ``readOnce()``).
    public func setReadSize(_ bytes: Int) async throws {
        try await self.channel.setOption(
            ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: bytes)
        ).get()
    }

    /// Turns automatic reading on: the rest of the body is drained as fast as it comes.
    public func readFreely() async throws {
        try await self.channel.setOption(ChannelOptions.autoRead, value: true).get()
        self.channel.read()
    }

    public var head: Head? { self.state.withLockedValue { $0.head } }
    public var bodyBytes: Int64 { self.state.withLockedValue { $0.bodyBytes } }
    public var bodyPrefix: [UInt8] { self.state.withLockedValue { $0.bodyPrefix } }
    public var isClosed: Bool { self.state.withLockedValue { $0.eof } }

    /// Reads (one read at a time, polling) until the head is parsed.
    public func readHead(timeout: Duration = .seconds(10)) async throws -> Head {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let head = self.head { return head }
            if self.isClosed { throw RawHTTPClient.ReadError.closedBeforeResponse }
            if ContinuousClock.now >= deadline { throw RawHTTPClient.ReadError.timedOut }
            self.channel.read()
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    public func close() async {
        try? await self.channel.close()
    }
}

private final class CountingHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let state: NIOLockedValueBox<CountingHTTPClient.State>

    init(state: NIOLockedValueBox<CountingHTTPClient.State>) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.state.withLockedValue { state in
            guard state.head == nil else {
                state.bodyBytes += Int64(buffer.readableBytes)
                if state.bodyPrefix.count < 256 {
                    state.bodyPrefix += buffer.readableBytesView.prefix(256 - state.bodyPrefix.count)
                }
                return
            }
            state.headBytes += buffer.readableBytesView
            let bytes = state.headBytes
            guard bytes.count >= 4 else { return }
            for index in 0...(bytes.count - 4)
            where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
                let text = String(decoding: bytes[0..<index], as: UTF8.self)
                var lines = text.split(separator: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                let headers = lines.compactMap { line -> (name: String, value: String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (
                        String(line[..<colon]), String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
                    )
                }
                state.head = .init(status: statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0, headers: headers)
                let rest = Array(bytes[(index + 4)...])
                state.bodyBytes = Int64(rest.count)
                state.bodyPrefix = Array(rest.prefix(256))
                state.headBytes = []
                return
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state.withLockedValue { $0.eof = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.state.withLockedValue { $0.eof = true }
        context.close(promise: nil)
    }
}
