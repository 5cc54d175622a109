import GatewayTestSupport
import NIOCore
import Testing

@testable import VendorSimulator

@Suite("The fixed-response server (the listener's floor in bench/floors.sh)")
struct FixedResponseServerTests {
    @Test("every request on a kept-alive connection gets the same 200 with a body of the asked size")
    func answersEveryRequest() async throws {
        let server = try await FixedResponseServer.start(bodyBytes: 1024)
        let request = "POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        let last = "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let outcome: RawHTTPClient.Exchange
        do {
            outcome = try await RawHTTPClient.exchange(port: server.port, request + last)
        } catch {
            try? await server.shutdown()
            throw error
        }
        try await server.shutdown()
        #expect(outcome.ending == .closed)
        let (first, rest) = try RawHTTPClient.Response.parse(outcome.bytes)
        let (second, after) = try RawHTTPClient.Response.parse(rest)
        for response in [first, second] {
            #expect(response.status == 200)
            #expect(response.body.count == 1024)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.bodyText.hasPrefix(#"{"data":"xxx"#) && response.bodyText.hasSuffix(#"x"}"#))
        }
        #expect(first.header("Connection") == nil)
        #expect(second.header("Connection") == "close")
        #expect(after.isEmpty)
    }

    @Test("a body smaller than its JSON frame is the frame alone")
    func tinyBody() {
        let response = FixedResponse(bodyBytes: 0)
        #expect(String(buffer: response.body) == #"{"data":""}"#)
        #expect(response.head.headers["content-length"] == ["11"])
    }
}
