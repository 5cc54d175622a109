import Foundation
import GatewayTestSupport
import Testing
import VendorSimulator

/// Envoy-style raw-socket vectors (`sendRawHttpAndWaitForResponse`) through the real gateway in front of a counting
/// upstream: each asserts the exact status, whether the connection closes, and that the upstream never saw a
/// smuggled second request.
@Suite("Hardening: raw request vectors through the gateway")
struct RawRequestVectorTests {
    /// A request the upstream must never see: if it does, a smuggled request got through.
    static let smuggled = "GET /sim/dokstamp/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var request: String
        var status: Int
        /// Requests the upstream receives (the smuggled one never).
        var upstreamRequests: Int
        var closes: Bool
        var testDescription: String { self.name }
    }

    static let post = "POST /sim/dokstamp/x HTTP/1.1\r\nHost: x\r\n"
    static let echo = "POST /sim/dokstamp/x?echo=true HTTP/1.1\r\nHost: x\r\n"
    static let vectors: [Vector] = [
        Vector(
            name: "CL then TE",
            request: post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "TE then CL",
            request: post + "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "duplicate identical CL",
            request: post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "different CLs", request: post + "Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "CL list", request: post + "Content-Length: 3, 40\r\n\r\nabc" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "obs-fold", request: post + "X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "obs-fold into TE",
            request: post + "Transfer-Encoding: identity\r\n , chunked\r\n\r\n0\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "bare LF line ending", request: "GET /sim/dokstamp/x HTTP/1.1\nHost: x\n\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "bare CR in a value",
            request: "GET /sim/dokstamp/x HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "NUL in a value",
            request: "GET /sim/dokstamp/x HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "space before colon", request: post + "Content-Length : 3\r\n\r\nabc" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "bad chunk size",
            request: post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "chunk size overflow",
            request: post + "Transfer-Encoding: chunked\r\n\r\n10000000000000001\r\na\r\n0\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "negative chunk size",
            request: post + "Transfer-Encoding: chunked\r\n\r\n-1\r\na\r\n0\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "TE chunked, chunked",
            request: post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "TE x-chunked", request: post + "Transfer-Encoding: x-chunked\r\n\r\n0\r\n\r\n" + smuggled,
            status: 501, upstreamRequests: 0, closes: true),
        Vector(
            name: "TE gzip, chunked", request: post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled,
            status: 501, upstreamRequests: 0, closes: true),
        Vector(
            name: "two TE fields",
            request: post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "HTTP/1.0 with TE",
            request: "POST /sim/dokstamp/x HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "missing Host", request: "GET /sim/dokstamp/x HTTP/1.1\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "two Hosts", request: "GET /sim/dokstamp/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        // RFC 9112 section 3.2 and RFC 3986 section 3.2: Host is uri-host [ ":" port ], nothing else.
        Vector(
            name: "Host with a space", request: "GET /sim/dokstamp/x HTTP/1.1\r\nHost: a b\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "Host with a slash", request: "GET /sim/dokstamp/x HTTP/1.1\r\nHost: a/b\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "Host with userinfo", request: "GET /sim/dokstamp/x HTTP/1.1\r\nHost: a@b\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "Host with a port that is not digits",
            request: "GET /sim/dokstamp/x HTTP/1.1\r\nHost: a:b\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "empty Host", request: "GET /sim/dokstamp/x HTTP/1.1\r\nHost: \r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "CONNECT", request: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" + smuggled,
            status: 501, upstreamRequests: 0, closes: true),
        Vector(
            name: "fragment", request: "GET /sim/dokstamp/x#f HTTP/1.1\r\nHost: x\r\n\r\n" + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        Vector(
            name: "chunk extension over 4 KiB",
            request: post + "Transfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "e", count: 5000)
                + "\r\na\r\n0\r\n\r\n"
                + smuggled,
            status: 400, upstreamRequests: 0, closes: true),
        // Accepted variants: optional whitespace and case are not smuggling; the body is what the chunks say, and the
        // pipelined request after it is a request of its own.
        Vector(
            name: "TE with leading space",
            request: echo + "Transfer-Encoding:  chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                + "GET /sim/dokstamp/y?echo=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            status: 200, upstreamRequests: 2, closes: true),
        Vector(
            name: "TE Chunked",
            request: echo + "Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            status: 200, upstreamRequests: 1, closes: true),
    ]

    @Test(arguments: Self.vectors)
    func vector(_ vector: Vector) async throws {
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        try await withHardenedGateway(upstreams: ["sim": "http://127.0.0.1:\(simulator.port)"]) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try? await client.send(vector.request)
            let response = try await client.readResponse(timeout: .seconds(5))
            #expect(response.status == vector.status, "\(response)")
            if vector.status == 200 {
                #expect(response.bodyText.contains(#""body":"abc""#))
            }
            if vector.status >= 400 {
                #expect(response.header("content-type")?.hasPrefix("application/problem+json") == true)
                #expect(response.header("x-request-id") != nil)
                #expect(response.header("connection") == "close")
                // Every gateway-made error is the envelope, the answer to CONNECT included (NIO's encoder would
                // drop that body: only a 2xx answer to CONNECT has none, RFC 9110 section 9.3.6).
                let document = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                #expect(document?["status"] as? Int == vector.status, "\(response)")
                #expect(document?["code"] as? String == "bad_request")
                #expect(document?["source"] as? String == "gateway")
                #expect(document?["request_id"] as? String == response.header("x-request-id"))
                #expect(response.header("content-length") == String(response.body.count))
            }
            if vector.closes {
                // Drain any further answers (the accepted pipelined case), then the connection must end.
                while (try? await client.readResponse(timeout: .milliseconds(500))) != nil {}
                #expect(await client.isClosed(within: .seconds(2)))
            }
            #expect(simulator.requestCount() == vector.upstreamRequests)
            #expect(simulator.requestCount(path: "/dokstamp/smuggled") == 0)
        }
    }

    @Test(arguments: ["a:8080", "[::1]:80", "127.0.0.1", "a.b-c_d~e", "xn--bcher-kva.example:", "a%41!$&'()*+,;=b"])
    func validHostsAreForwarded(host: String) async throws {
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        try await withHardenedGateway(upstreams: ["sim": "http://127.0.0.1:\(simulator.port)"]) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send("GET /sim/dokstamp/x?echo=true HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 200, "\(response)")
            #expect(simulator.lastRequest()?.header("x-forwarded-host") == host)
        }
    }

    @Test func requestTrailersAreNeverForwarded() async throws {
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        try await withHardenedGateway(upstreams: ["sim": "http://127.0.0.1:\(simulator.port)"]) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send(
                "POST /sim/dokstamp/x?echo=true HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Smuggle\r\n\r\n"
                    + "5\r\nhello\r\n0\r\nX-Smuggle: yes\r\nX-Other-Trailer: 1\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 200)
            let seen = try #require(simulator.lastRequest())
            #expect(seen.body == Array("hello".utf8))
            #expect(seen.header("x-smuggle") == nil)
            #expect(seen.header("x-other-trailer") == nil)
            #expect(seen.header("trailer") == nil)
            #expect(seen.header("transfer-encoding") == nil)
            #expect(!response.bodyText.lowercased().contains("x-smuggle"))
        }
    }

    @Test func upgradeIsServedWithoutTheUpgradeHeaderAndTheConnectionCloses() async throws {
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        try await withHardenedGateway(upstreams: ["sim": "http://127.0.0.1:\(simulator.port)"]) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send(
                "GET /sim/dokstamp/ws?echo=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" + Self.smuggled
            )
            let response = try await client.readResponse(timeout: .seconds(3))
            #expect(response.status == 200)
            #expect(response.header("connection") == "close")
            #expect(response.header("upgrade") == nil)
            #expect(await client.isClosed(within: .seconds(2)))
            let seen = try #require(simulator.lastRequest())
            #expect(seen.header("upgrade") == nil)
            #expect(seen.header("connection")?.lowercased().contains("upgrade") != true)
            #expect(simulator.requestCount(path: "/dokstamp/smuggled") == 0)
        }
    }

    @Test func viaIsAddedBothWays() async throws {
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        try await withHardenedGateway(upstreams: ["sim": "http://127.0.0.1:\(simulator.port)"]) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send("GET /sim/dokstamp/x?echo=true HTTP/1.1\r\nHost: x\r\nVia: 1.0 edge\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.header("via")?.hasSuffix("1.1 error-gateway") == true)
            #expect(simulator.lastRequest()?.header("via") == "1.0 edge, 1.1 error-gateway")
        }
    }

    @Test(arguments: ["OPTIONS", "TRACE"])
    func maxForwardsZeroIsAnsweredByTheGateway(method: String) async throws {
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        try await withHardenedGateway(upstreams: ["sim": "http://127.0.0.1:\(simulator.port)"]) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send(
                "\(method) /sim/dokstamp/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nAuthorization: secret\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 200)
            if method == "TRACE" {
                #expect(response.header("content-type") == "message/http")
                #expect(response.bodyText.hasPrefix("TRACE /sim/dokstamp/x HTTP/1.1"))
                #expect(!response.bodyText.contains("secret"))
            } else {
                #expect(response.header("allow") != nil)
            }
            #expect(simulator.requestCount() == 0)
            // Max-Forwards above 0 is forwarded.
            try await client.send("OPTIONS /sim/dokstamp/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 1\r\n\r\n")
            _ = try await client.readResponse()
            #expect(simulator.requestCount() == 1)
        }
    }
}
