import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A test client that speaks raw bytes over TCP, so tests can send what a well-behaved client never would
/// (smuggling vectors, trickled heads, pipelined requests) and read exactly what the server answers.
public final class RawHTTPClient: @unchecked Sendable {
    // @unchecked: the inbound iterator is used by one test task at a time; the channel itself is thread-safe.
    public struct Response: Sendable, CustomStringConvertible {
        public var status: Int
        public var reason: String
        /// Header fields in order, names as sent.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public func headers(_ name: String) -> [String] {
            self.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        public var bodyText: String { String(decoding: self.body, as: UTF8.self) }

        public var description: String { "\(self.status) \(self.reason) \(self.headers) \(self.bodyText)" }

        /// The first response in `bytes`, all of a connection's bytes (so a body without a length ends with them),
        /// and the bytes after it (a pipelined next response).
        /// - Parameter headRequest: whether it answers a `HEAD` (then it has no body, whatever its length says).
        /// - Throws: ``ReadError/malformed(_:)`` when the bytes are not one complete response.
        public static func parse(
            _ bytes: [UInt8], headRequest: Bool = false
        ) throws -> (response: Response, rest: [UInt8]) {
            guard let (response, consumed) = try RawHTTPClient.parse(bytes, headRequest: headRequest, complete: true)
            else {
                throw ReadError.malformed(String(decoding: bytes.prefix(200), as: UTF8.self))
            }
            return (response, Array(bytes[consumed...]))
        }
    }

    /// Why reading a response failed.
    public enum ReadError: Error, Equatable {
        case closedBeforeResponse
        case timedOut
        case malformed(String)
    }

    /// How a connection read by ``exchange(host:port:_:keep:timeout:)`` ended.
    public enum Ending: Equatable, Sendable {
        /// The server closed cleanly (EOF).
        case closed
        /// The connection was reset (ECONNRESET).
        case reset
        /// Nothing ended the connection before the timeout.
        case timedOut
    }

    /// What one whole exchange received: the bytes (the first `keep` of them), how many arrived in all, and how the
    /// connection ended.
    public struct Exchange: Sendable {
        public var bytes: [UInt8]
        public var total: Int
        public var ending: Ending
    }

    /// Sends `request` on a new connection and reads until the server closes it, resets it, or `timeout` passes.
    /// - Parameters:
    ///   - keep: keep at most this many bytes; the rest is only counted, so a huge body costs no memory here.
    ///   - timeout: how long to wait for the end of the connection.
    public static func exchange(
        host: String = "127.0.0.1", port: Int, _ request: [UInt8], keep: Int = .max,
        timeout: Duration = .seconds(10)
    ) async throws -> Exchange {
        let client = try await Self.connect(host: host, port: port, keep: keep)
        defer { client.channel.close(promise: nil) }
        try await client.send(request)
        let closed = await client.isClosed(within: timeout)
        let (bytes, _) = client.collector.take()
        let total = client.collector.total
        let ending: Ending = !closed ? .timedOut : client.collector.wasReset ? .reset : .closed
        return Exchange(bytes: client.buffered + bytes, total: total, ending: ending)
    }

    /// ``exchange(host:port:_:keep:timeout:)`` with the request as text.
    public static func exchange(
        host: String = "127.0.0.1", port: Int, _ request: String, keep: Int = .max, timeout: Duration = .seconds(10)
    ) async throws -> Exchange {
        try await Self.exchange(host: host, port: port, Array(request.utf8), keep: keep, timeout: timeout)
    }

    private let channel: any Channel
    private let collector: ByteCollector
    private var buffered: [UInt8] = []
    private var sawEOF = false

    private init(channel: any Channel, collector: ByteCollector) {
        self.channel = channel
        self.collector = collector
    }

    public static func connect(host: String = "127.0.0.1", port: Int) async throws -> RawHTTPClient {
        try await Self.connect(host: host, port: port, keep: .max)
    }

    private static func connect(host: String, port: Int, keep: Int) async throws -> RawHTTPClient {
        let collector = ByteCollector(keep: keep)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: host, port: port).get()
        return RawHTTPClient(channel: channel, collector: collector)
    }

    public func send(_ text: String) async throws {
        try await self.send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Closes the connection.
    public func close() async {
        try? await self.channel.close()
    }

    /// Reads one response (Content-Length, chunked, or until close), or throws.
    public func readResponse(timeout: Duration = .seconds(10), headRequest: Bool = false) async throws -> Response {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let response = try self.parseResponse(headRequest: headRequest, complete: self.sawEOF) {
                return response
            }
            if self.sawEOF {
                throw self.buffered.isEmpty
                    ? ReadError.closedBeforeResponse
                    : ReadError.malformed(String(decoding: self.buffered, as: UTF8.self))
            }
            try await self.readMore(until: deadline)
        }
    }

    /// Whether the server closes the connection within `timeout` (any bytes it sends first are kept).
    public func isClosed(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !self.sawEOF {
            do {
                try await self.readMore(until: deadline)
            } catch {
                return false
            }
        }
        return true
    }

    /// Bytes received and not yet consumed by `readResponse`.
    public var unreadBytes: [UInt8] { self.buffered }

    /// Every byte received so far that `readResponse` did not consume, without waiting (for non-HTTP peers).
    public func receivedBytes() async throws -> [UInt8] {
        let (bytes, eof) = self.collector.take()
        self.buffered += bytes
        self.sawEOF = self.sawEOF || eof
        return self.buffered
    }

    /// Waits, polling every few milliseconds up to `deadline`, until new bytes or the end of the stream arrive.
    private func readMore(until deadline: ContinuousClock.Instant) async throws {
        while true {
            let (bytes, eof) = self.collector.take()
            if !bytes.isEmpty || eof {
                self.buffered += bytes
                self.sawEOF = eof
                return
            }
            if ContinuousClock.now >= deadline { throw ReadError.timedOut }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    private func parseResponse(headRequest: Bool, complete: Bool) throws -> Response? {
        guard let (response, consumed) = try Self.parse(self.buffered, headRequest: headRequest, complete: complete)
        else { return nil }
        self.buffered.removeFirst(consumed)
        return response
    }

    /// The first response in `bytes` and how many bytes it took, or nil while it is incomplete.
    /// - Parameter complete: whether `bytes` is all there will be (a body without length then ends with it).
    static func parse(_ bytes: [UInt8], headRequest: Bool, complete: Bool) throws -> (Response, consumed: Int)? {
        guard let headEnd = Self.find([13, 10, 13, 10], in: bytes, from: 0) else { return nil }
        let headText = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw ReadError.malformed(headText)
        }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...].drop(while: { $0 == " " })))
        }
        var response = Response(
            status: status, reason: statusLine.count > 2 ? String(statusLine[2]) : "", headers: headers, body: [])
        let bodyStart = headEnd + 4
        if (100..<200).contains(status) || headRequest || status == 204 || status == 304 {
            return (response, bodyStart)
        }
        if let length = response.header("content-length").flatMap({ Int($0) }) {
            guard bytes.count - bodyStart >= length else { return nil }
            response.body = Array(bytes[bodyStart..<bodyStart + length])
            return (response, bodyStart + length)
        }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            var index = bodyStart
            var body: [UInt8] = []
            while true {
                guard let lineEnd = Self.find([13, 10], in: bytes, from: index) else { return nil }
                let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
                    throw ReadError.malformed("chunk size \(sizeText)")
                }
                let dataStart = lineEnd + 2
                if size == 0 {
                    guard let trailerEnd = Self.find([13, 10], in: bytes, from: dataStart) else { return nil }
                    response.body = body
                    return (response, trailerEnd + 2)
                }
                guard bytes.count >= dataStart + size + 2 else { return nil }
                body += bytes[dataStart..<dataStart + size]
                index = dataStart + size + 2
            }
        }
        guard complete else { return nil }
        response.body = Array(bytes[bodyStart...])
        return (response, bytes.count)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0], Array(haystack[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }
}

/// Collects every byte a connection receives, and whether it ended, for ``RawHTTPClient``.
private final class ByteCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private struct State {
        var bytes: [UInt8] = []
        var eof = false
        var reset = false
        /// Every byte received, kept or not.
        var total = 0
    }

    /// How many bytes to keep in all; later ones are only counted.
    private let keep: Int
    private let state = NIOLockedValueBox(State())

    init(keep: Int) {
        self.keep = keep
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.state.withLockedValue { state in
            let room = max(0, self.keep - state.total)
            if room > 0 { state.bytes += buffer.readableBytesView.prefix(room) }
            state.total += buffer.readableBytes
        }
    }

    /// Every byte received so far, including those not kept.
    var total: Int { self.state.withLockedValue { $0.total } }

    /// Whether the connection ended with a reset (ECONNRESET).
    var wasReset: Bool { self.state.withLockedValue { $0.reset } }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            self.state.withLockedValue { $0.eof = true }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state.withLockedValue { $0.eof = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reset = (error as? IOError)?.errnoCode == ECONNRESET
        self.state.withLockedValue { state in
            state.eof = true
            state.reset = state.reset || reset
        }
        context.close(promise: nil)
    }

    /// The bytes received since the last call, and whether the stream ended.
    func take() -> ([UInt8], Bool) {
        self.state.withLockedValue { state in
            defer { state.bytes.removeAll(keepingCapacity: true) }
            return (state.bytes, state.eof)
        }
    }
}
