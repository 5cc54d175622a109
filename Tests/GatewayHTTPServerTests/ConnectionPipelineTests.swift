import GatewayTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import GatewayHTTPServer

/// The middle tier: the listener's handlers (``ConnectionGuardHandler``, NIO's HTTP codec,
/// ``RequestLifecycleObserver``, ``HTTPConnectionHandler``) in one pipeline on an `EmbeddedChannel`, driven byte by
/// byte, with the loop's virtual time for the deadlines. No socket, no thread, no wait: each test is exact.
///
/// The tests are synchronous on purpose: an `EmbeddedEventLoop` belongs to the thread that made it, and the
/// responder's task, started at once on the loop's executor, runs in `embeddedEventLoop.run()` on that thread.
@Suite("Connection pipeline on an EmbeddedChannel")
struct ConnectionPipelineTests {
    @Test func aResponseWrittenThroughTheHandlerArrivesAsHeadBodyAndEnd() throws {
        let pipeline = try EmbeddedPipeline()
        try pipeline.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        let response = try #require(try pipeline.responses().first)
        #expect(response.status == 200)
        #expect(response.bodyText == "POST /echo body=5")
        #expect(response.header("content-length") == "17")
        #expect(pipeline.responder.targets == ["/echo"])
        // Keep-alive: the connection stays open and serves the next request.
        #expect(pipeline.channel.isActive)
        try pipeline.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try pipeline.responses().map(\.bodyText) == ["GET /again body=0"])
    }

    /// A response whose length its head states leaves as one buffer: the listener serializes it below the encoder
    /// (``SerializedResponse``), and the connection goes on as after any response.
    @Test func aCompleteResponseLeavesAsOneBuffer() throws {
        let pipeline = try EmbeddedPipeline()
        try pipeline.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        var buffers: [ByteBuffer] = []
        while let buffer = try pipeline.channel.readOutbound(as: ByteBuffer.self) { buffers.append(buffer) }
        #expect(buffers.count == 1)
        let parsed = try RawHTTPClient.Response.parse(Array(buffers.first?.readableBytesView ?? []))
        #expect(parsed.response.status == 200)
        #expect(parsed.response.bodyText == "GET /one body=0")
        #expect(parsed.rest.isEmpty)
        // A HEAD answer states the GET's length without the body: NIO's encoder frames it, as before.
        try pipeline.send("HEAD /two HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try pipeline.outboundBytes()
        #expect(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(String(decoding: head, as: UTF8.self).hasSuffix("\r\n\r\n"))
        try pipeline.send("GET /three HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try pipeline.responses().map(\.bodyText) == ["GET /three body=0"])
        #expect(pipeline.channel.isActive)
    }

    /// Without the guard in the pipeline (nothing removes it today), a complete response still goes out, through
    /// the encoder, instead of being dropped.
    @Test func withoutTheGuardACompleteResponseGoesThroughTheEncoder() throws {
        let pipeline = try EmbeddedPipeline()
        try pipeline.channel.pipeline.syncOperations.removeHandler(pipeline.connectionGuard).wait()
        try pipeline.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try pipeline.responses().map(\.bodyText) == ["GET /one body=0"])
    }

    @Test func aPipelinedRequestIsHeldUntilTheFirstResponseHasEnded() throws {
        let pipeline = try EmbeddedPipeline()
        pipeline.responder.holdTargets = ["/first"]
        try pipeline.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        // The first request is being answered; the second is kept, not handed to the responder.
        #expect(pipeline.responder.targets == ["/first"])
        #expect(try pipeline.outboundBytes().isEmpty)
        // A read asked for meanwhile is held: the client cannot make the gateway buffer more.
        let readsBefore = pipeline.reads.count
        pipeline.channel.read()
        #expect(pipeline.reads.count == readsBefore)

        pipeline.responder.release("/first")
        pipeline.channel.embeddedEventLoop.run()
        // The first response ended, then the second request was served, in order, and the held read went out.
        #expect(pipeline.responder.targets == ["/first", "/second"])
        #expect(try pipeline.responses().map(\.bodyText) == ["GET /first body=0", "GET /second body=0"])
        #expect(pipeline.reads.count == readsBefore + 1)
    }

    @Test func anOversizedHeadGets431AndTheConnectionCloses() throws {
        let pipeline = try EmbeddedPipeline(maxHeaderBytes: 1024)
        try pipeline.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 2000))\r\n")
        let response = try #require(try pipeline.responses().first)
        #expect(response.status == 431)
        #expect(response.header("connection") == "close")
        #expect(pipeline.responder.targets.isEmpty)
        #expect(!pipeline.channel.isActive)
    }

    @Test func aRequestLineLongerThanTheHeadLimitGets414() throws {
        let pipeline = try EmbeddedPipeline(maxHeaderBytes: 1024)
        try pipeline.send("GET /\(String(repeating: "a", count: 2000))")
        #expect(try pipeline.responses().map(\.status) == [414])
        #expect(!pipeline.channel.isActive)
    }

    @Test func anIdleConnectionIsClosedAtItsIdleTimeoutWithoutAResponse() throws {
        let pipeline = try EmbeddedPipeline(idleTimeout: .seconds(5))
        pipeline.channel.embeddedEventLoop.advanceTime(by: .milliseconds(4999))
        #expect(pipeline.channel.isActive)
        pipeline.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!pipeline.channel.isActive)
        #expect(try pipeline.outboundBytes().isEmpty)
    }

    @Test func theIdleTimeoutRestartsAfterEachResponse() throws {
        let pipeline = try EmbeddedPipeline(idleTimeout: .seconds(5))
        pipeline.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        try pipeline.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try pipeline.responses().count == 1)
        // Four seconds after the response: 8 s since the connection opened, but only 4 s idle.
        pipeline.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(pipeline.channel.isActive)
        pipeline.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!pipeline.channel.isActive)
    }

    @Test func aHeadTrickledPastTheHeaderTimeoutGets408EvenThoughBytesKeepComing() throws {
        let pipeline = try EmbeddedPipeline(requestHeaderTimeout: .seconds(10))
        for byte in "GET / HTTP/1.1\r\nHost: x\r\n".utf8.prefix(12) {
            try pipeline.send([byte])
            pipeline.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            if !pipeline.channel.isActive { break }
        }
        // Ten seconds from the first byte, however the bytes were spread: a slowloris is cut at the deadline.
        #expect(try pipeline.responses().map(\.status) == [408])
        #expect(!pipeline.channel.isActive)
        #expect(pipeline.responder.targets.isEmpty)
    }
}

/// One connection's pipeline as the listener builds it, on an `EmbeddedChannel`, with a responder that records what
/// it was asked and can hold a response until the test releases it.
private final class EmbeddedPipeline {
    let channel = EmbeddedChannel()
    let responder = RecordingResponder()
    /// Every `read` the handlers let through to the channel.
    let reads = ReadCounter()
    let connectionGuard: ConnectionGuardHandler

    init(
        maxHeaderBytes: Int = 16 * 1024, idleTimeout: Duration = .seconds(60),
        requestHeaderTimeout: Duration = .seconds(10)
    ) throws {
        let configuration = HTTPServerConfiguration(
            maxHeaderBytes: maxHeaderBytes, idleTimeout: idleTimeout, requestHeaderTimeout: requestHeaderTimeout)
        let sync = self.channel.pipeline.syncOperations
        try sync.addHandler(self.reads)
        self.connectionGuard = ConnectionGuardHandler(
            idleTimeout: configuration.idleTimeout, requestTimeout: configuration.requestHeaderTimeout,
            bodyTimeout: configuration.requestBodyTimeout,
            minBodyBytesPerSecond: configuration.minRequestBodyBytesPerSecond,
            maxHeadBytes: configuration.maxHeaderBytes)
        let timeouts = self.connectionGuard
        try sync.addHandler(timeouts)
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withServerUpgrade: nil, withErrorHandling: false)
        try sync.addHandler(RequestLifecycleObserver(reportingTo: timeouts))
        let registry = ConnectionRegistry()
        try sync.addHandler(
            HTTPConnectionHandler(
                configuration: configuration, responder: self.responder,
                entry: registry.register(self.channel, limit: 10), connectionGuard: timeouts,
                executor: EventLoopTaskExecutor(self.channel.embeddedEventLoop), logger: Logger(label: "embedded")))
        try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    func send(_ text: String) throws {
        try self.send(Array(text.utf8))
    }

    /// Delivers `bytes` as one read, then runs whatever the loop has to do.
    func send(_ bytes: [UInt8]) throws {
        try self.channel.writeInbound(ByteBuffer(bytes: bytes))
        self.channel.embeddedEventLoop.run()
    }

    /// The bytes written to the client since the last call.
    func outboundBytes() throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try self.channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readableBytesView
        }
        return bytes
    }

    /// The complete responses written to the client since the last call.
    func responses() throws -> [RawHTTPClient.Response] {
        var rest = try self.outboundBytes()
        var responses: [RawHTTPClient.Response] = []
        while !rest.isEmpty {
            let parsed = try RawHTTPClient.Response.parse(rest)
            responses.append(parsed.response)
            rest = parsed.rest
        }
        return responses
    }
}

/// Answers `METHOD target body=N`; a target in `holdTargets` waits until ``release(_:)``.
private final class RecordingResponder: HTTPResponder, @unchecked Sendable {
    // @unchecked: used only on the embedded loop's thread (the test's), like the channel itself.
    var targets: [String] = []
    var holdTargets: Set<String> = []
    private var held: [String: CheckedContinuation<Void, Never>] = [:]

    func respond(to request: ServerRequest, writer: ResponseWriter) async throws {
        self.targets.append(request.target)
        if self.holdTargets.contains(request.target) {
            await withCheckedContinuation { self.held[request.target] = $0 }
        }
        let text = "\(request.head.method.rawValue) \(request.target) body=\(request.body?.readableBytes ?? 0)"
        try await writer.write(ServerResponse(status: .ok, headers: [:], body: ByteBuffer(string: text)))
    }

    func release(_ target: String) {
        self.held.removeValue(forKey: target)?.resume()
    }

    func response(for refusal: ServerRefusal, head: HTTPRequestHead?, remoteAddress: SocketAddress?) -> ServerResponse {
        ServerResponse(status: HTTPResponseStatus(statusCode: refusal.status), headers: [:], body: ByteBuffer())
    }
}

/// The pipeline's first handler: counts the `read` calls that reach the channel.
private final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
    // @unchecked: used only on the embedded loop's thread.
    typealias OutboundIn = Any
    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        self.count += 1
        context.read()
    }
}
