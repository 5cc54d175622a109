import Foundation
import GatewayTestSupport
import Testing
import VendorSimulator

/// A fault-injecting TCP proxy between the gateway and the upstream (latency, a bandwidth limit, resets, black
/// holes): no response is ever lost or mangled. Each request gets the upstream's answer byte for byte, or a
/// canonical envelope, or — when the fault hits after the head went out — a visibly incomplete response on a
/// closed connection; never a complete response with the wrong bytes.
@Suite("Hardening: fault injection between gateway and upstream")
struct FaultInjectionTests {
    static let faults: [FaultProxy.Fault] = [
        .none, .latency(.milliseconds(30)), .bandwidth(bytesPerSecond: 512 * 1024), .resetAfter(bytes: 60),
        .resetAfter(bytes: 3000), .blackHole,
    ]

    @Test func everyRequestGetsTheExactAnswerOrAnEnvelope() async throws {
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        let proxy = try await FaultProxy.start(upstreamPort: simulator.port) { index in
            Self.faults[index % Self.faults.count]
        }
        defer { Task { await proxy.shutdown() } }
        let size = 16 * 1024
        let expected = (0..<size).map { VendorSimulator.streamedBodyPattern[$0 % 64] }

        try await withHardenedGateway(upstreams: ["sim": "http://127.0.0.1:\(proxy.port)"]) { port, _ in
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<24 {
                    group.addTask {
                        let client = try await RawHTTPClient.connect(port: port)
                        defer { Task { await client.close() } }
                        // Connection: close on the way up is not forwarded; each request may reuse a pooled
                        // upstream connection or open one (and so meet the next fault).
                        try await client.send("GET /sim/dokstamp/f\(index)?size=\(size) HTTP/1.1\r\nHost: x\r\n\r\n")
                        do {
                            let response = try await client.readResponse(timeout: .seconds(6))
                            if response.status == 200 {
                                #expect(response.body == expected, "request \(index): body mangled")
                                return "exact"
                            }
                            #expect([502, 504].contains(response.status), "request \(index): \(response.status)")
                            #expect(response.header("content-type")?.hasPrefix("application/problem+json") == true)
                            let document = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                            #expect(document?["status"] as? Int == response.status)
                            return "envelope"
                        } catch let error as RawHTTPClient.ReadError {
                            // Only acceptable as an aborted stream: the head came, the body did not complete.
                            #expect(error != .timedOut, "request \(index) hung")
                            #expect(await client.isClosed(within: .seconds(1)))
                            return "aborted"
                        }
                    }
                }
                var all: [String] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            #expect(outcomes.count == 24)
            #expect(outcomes.contains("exact"))
            #expect(outcomes.contains("envelope"))
            #expect(proxy.connectionCount >= Self.faults.count)
        }
    }
}
