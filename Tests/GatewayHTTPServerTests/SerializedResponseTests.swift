import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import GatewayHTTPServer

/// The listener's own serialization of complete responses: the same bytes NIO's encoder writes, and only for the
/// responses whose framing their `Content-Length` settles and whose fields NIO's validator would let through.
@Suite struct SerializedResponseTests {
    private let allocator = ByteBufferAllocator()

    private func head(_ status: HTTPResponseStatus = .ok, _ fields: [(String, String)]) -> HTTPResponseHead {
        HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(fields))
    }

    /// What NIO's `HTTPResponseEncoder` writes for head, body and end.
    private func encoded(_ head: HTTPResponseHead, _ body: ByteBuffer?) throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: HTTPResponseEncoder())
        try channel.writeOutbound(HTTPServerResponsePart.head(head))
        if let body { try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(body))) }
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        var bytes: [UInt8] = []
        while let part = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = part else { continue }
            bytes += buffer.readableBytesView
        }
        _ = try channel.finish()
        return bytes
    }

    @Test(arguments: [0, 1, 1024, 4096, 4097, 70_000])
    func theBytesAreTheEncoders(bodySize: Int) throws {
        let body = ByteBuffer(repeating: UInt8(ascii: "b"), count: bodySize)
        let head = self.head(
            .unprocessableEntity,
            [
                ("Content-Type", "application/json"), ("content-length", String(bodySize)), ("X-Tab", "a\tb"),
                ("X-Latin", "caf\u{E9}"), ("Date", "Mon, 07 Dec 2026 16:00:00 GMT"),
            ])
        let serialized = try #require(
            SerializedResponse.serialize(head, bodyBytes: bodySize, body: body, allocator: self.allocator))
        #expect(serialized.bodyIncluded == (bodySize <= SerializedResponse.inlineBodyLimit))
        var bytes = Array(serialized.bytes.readableBytesView)
        if !serialized.bodyIncluded { bytes += body.readableBytesView }
        #expect(bytes == (try self.encoded(head, bodySize == 0 ? nil : body)))
    }

    @Test func aBodyInPartsFollowsTheHead() throws {
        let head = self.head(.ok, [("Content-Length", "10")])
        let serialized = try #require(
            SerializedResponse.serialize(head, bodyBytes: 10, body: nil, allocator: self.allocator))
        #expect(!serialized.bodyIncluded)
        #expect(String(buffer: serialized.bytes) == "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
    }

    @Test func aCustomStatusKeepsItsReason() throws {
        let head = self.head(.custom(code: 599, reasonPhrase: "Odd Thing"), [("Content-Length", "0")])
        let serialized = try #require(
            SerializedResponse.serialize(head, bodyBytes: 0, body: nil, allocator: self.allocator))
        #expect(String(buffer: serialized.bytes) == "HTTP/1.1 599 Odd Thing\r\nContent-Length: 0\r\n\r\n")
    }

    /// Each of these goes through the encoder (and the validator) as before.
    @Test(arguments: [
        ("no length", HTTPResponseStatus.ok, [("X-A", "1")], 3),
        ("a wrong length", .ok, [("Content-Length", "4")], 3),
        ("two lengths", .ok, [("Content-Length", "3"), ("content-length", "3")], 3),
        ("a signed length", .ok, [("Content-Length", "+3")], 3),
        ("a padded length", .ok, [("Content-Length", " 3")], 3),
        ("chunked", .ok, [("Content-Length", "3"), ("Transfer-Encoding", "chunked")], 3),
        ("204", .noContent, [("Content-Length", "0")], 0),
        ("304", .notModified, [("Content-Length", "0")], 0),
        ("1xx", .continue, [("Content-Length", "0")], 0),
        ("a bad name", .ok, [("Content-Length", "3"), ("Bad Name", "x")], 3),
        ("an empty name", .ok, [("Content-Length", "3"), ("", "x")], 3),
        ("a CR in a value", .ok, [("Content-Length", "3"), ("X-A", "a\rb")], 3),
        ("a LF in a value", .ok, [("Content-Length", "3"), ("X-A", "a\nSet-Cookie: x")], 3),
        ("a NUL in a value", .ok, [("Content-Length", "3"), ("X-A", "a\u{0}")], 3),
        ("a bad reason", .custom(code: 200, reasonPhrase: "O\r\nK"), [("Content-Length", "3")], 3),
    ])
    func theEncoderFramesTheRest(what: String, status: HTTPResponseStatus, fields: [(String, String)], bodyBytes: Int) {
        let body = ByteBuffer(repeating: 0x61, count: bodyBytes)
        #expect(
            SerializedResponse.serialize(
                self.head(status, fields), bodyBytes: bodyBytes, body: body, allocator: self.allocator)
                == nil, "\(what)")
        let http10 = HTTPResponseHead(version: .http1_0, status: .ok, headers: ["Content-Length": "3"])
        #expect(SerializedResponse.serialize(http10, bodyBytes: 3, body: body, allocator: self.allocator) == nil)
    }
}
