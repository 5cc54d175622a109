import Foundation
import GatewayTestSupport
import Testing

/// Upstream responses whose framing a client must never have to guess (issue 12): transfer codings curl does not
/// decode, 204/304 heads followed by bytes, and error bodies that break while the normalizer reads them.
@Suite("Hardening: upstream framing")
struct UpstreamFramingTests {
    /// `gzip.compress(b"hello gzip world", mtime=0)`.
    static let gzipped: [UInt8] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x48, 0xaf,
        0xca, 0x2c, 0x50, 0x28, 0xcf, 0x2f, 0xca, 0x49, 0x01, 0x00, 0x6b, 0x7d, 0xe8, 0xb7, 0x10, 0x00, 0x00, 0x00,
    ]

    static func config(port: Int) -> String {
        simpleConfig(
            url: "http://127.0.0.1:\(port)", upstream: "    retry: { attempts: 1 }",
            top: "server: { access_log: false }")
    }

    @Test func aGzipTransferCodingDelimitedByCloseReachesTheClientAsAContentCoding() async throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip\r\n\r\n"
        try await withStub({ _ in .respondAndClose(Array(head.utf8) + Self.gzipped) }) { stub in
            try await withGateway(yaml: Self.config(port: stub.port)) { gateway in
                let response = try await gateway.request("GET", "/api/zipped")
                #expect(response.status == 200)
                // The client can see the coding: the bytes as sent, labelled as a content coding, validly framed.
                #expect(response.header("content-encoding") == "gzip", "\(response.headers)")
                #expect(response.header("transfer-encoding") != "gzip")
                #expect(response.body == Self.gzipped)
            }
        }
    }

    @Test func aGzipThenChunkedTransferCodingReachesTheClientAsAContentCoding() async throws {
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: br\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        let chunked =
            Array(String(Self.gzipped.count, radix: 16).utf8) + [13, 10] + Self.gzipped + Array("\r\n0\r\n\r\n".utf8)
        try await withStub({ _ in .respond(Array(head.utf8) + chunked) }) { stub in
            try await withGateway(yaml: Self.config(port: stub.port)) { gateway in
                let response = try await gateway.request("GET", "/api/zipped")
                #expect(response.status == 200)
                // Codings are listed in the order they were applied: br first, then gzip.
                #expect(response.header("content-encoding") == "br, gzip", "\(response.headers)")
                #expect(response.body == Self.gzipped)
            }
        }
    }

    @Test func anUnknownTransferCodingIsA502() async throws {
        let reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: frobnicate\r\n\r\nwhatever"
        try await withStub({ _ in .respondAndClose(Array(reply.utf8)) }) { stub in
            try await withGateway(yaml: Self.config(port: stub.port)) { gateway in
                let response = try await gateway.request("GET", "/api/odd")
                #expect(response.status == 502)
                #expect(Envelope(response).code == "upstream_unavailable")
                #expect(!response.bodyText.contains("whatever"))
            }
        }
    }

    @Test(arguments: ["204 No Content", "304 Not Modified"])
    func bytesAfterABodylessHeadAreNeverReadAsTheNextResponse(status: String) async throws {
        let bodyless =
            "HTTP/1.1 \(status)\r\nETag: \"e\"\r\n\r\n" + "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
        let real = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal"
        try await withStub({
            $0.requestLine.contains("/first") ? .respond(Array(bodyless.utf8)) : .respond(Array(real.utf8))
        }) {
            stub in
            // One event loop: one curl engine and connection pool, so every request could reuse one connection.
            try await withGateway(yaml: Self.config(port: stub.port), proxyLoops: 1) { gateway in
                let first = try await gateway.request("GET", "/api/first")
                #expect(first.status == Int(status.prefix(3)))
                #expect(first.body.isEmpty)
                for _ in 0..<3 {
                    let next = try await gateway.request("GET", "/api/next")
                    #expect(next.status == 200)
                    #expect(next.bodyText == "real")
                }
                // The connection that carried the extra bytes was closed, never reused (RFC 9112 section 6.3).
                #expect(stub.acceptedConnections == 2, "accepted \(stub.acceptedConnections)")
                #expect(await eventually { stub.openConnections == 1 })
            }
        }
    }

    @Test func anErrorBodyThatBreaksIsCountedAndTheEnvelopeComesFromStatusAndHeaders() async throws {
        let reply =
            "HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
            + #"{"message":"The given data was invalid.","errors":{"email":["The email field is requ"#
        let broken = try await BrokenUpstream.start { _ in .init(reply, after: .close) }
        defer { Task { await broken.shutdown() } }
        try await withGateway(yaml: Self.config(port: broken.port)) { gateway in
            let response = try await gateway.request("GET", "/api/form")
            #expect(response.status == 422)
            let envelope = Envelope(response)
            #expect(envelope.code == "validation_failed")
            #expect(envelope.upstreamStatus == .some(422))
            // Nothing of the broken body is shown as if it were whole.
            #expect(envelope.errors.isEmpty, "\(envelope.json)")
            #expect(!response.bodyText.contains("email field"))
            let metrics = try await gateway.metrics()
            #expect(
                metrics.contains(#"gateway_upstream_body_errors_total{upstream="sim",outcome="reset"} 1"#),
                "\(metrics.split(separator: "\n").filter { $0.contains("body_errors") })")
        }
    }

    @Test func aProtocolErrorIsCountedAsSuchNotAsAReset() async throws {
        let broken = try await BrokenUpstream.start { _ in .init("garbage, not HTTP\r\n\r\n", after: .close) }
        defer { Task { await broken.shutdown() } }
        try await withGateway(yaml: Self.config(port: broken.port)) { gateway in
            let response = try await gateway.request("GET", "/api/x")
            #expect(response.status == 502)
            let lines = try await gateway.metrics().split(separator: "\n").filter {
                $0.hasPrefix("gateway_upstream_requests_total{")
            }
            #expect(lines.contains { $0.contains(#"outcome="protocol_error""#) && $0.hasSuffix(" 1") }, "\(lines)")
            #expect(!lines.contains { $0.contains(#"outcome="reset""#) }, "\(lines)")
        }
    }
}
