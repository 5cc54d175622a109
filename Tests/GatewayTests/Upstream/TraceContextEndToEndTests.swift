import Foundation
import GatewayCore
import GatewayTestSupport
import Testing
import VendorSimulator

/// W3C trace context end to end: what the upstream receives, and the trace id in the access log.
@Suite struct TraceContextEndToEndTests {
    static let ok = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
    static let clientParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func theClientsTraceIsContinuedWithASpanPerTry() async throws {
        try await withStub(firstCallFails()) { stub in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(stub.port)", upstream: "    retry: { backoff: { base: 1ms, max: 2ms } }\n")
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request(
                    "GET", "/api/traced",
                    headers: [("traceparent", Self.clientParent), ("tracestate", "vendor=opaque,other=1")])
                #expect(response.status == 200)
            }
            let parents = stub.requests.compactMap { $0.header("traceparent") }
            #expect(parents.count == 2)
            let contexts = parents.compactMap(TraceContext.parse)
            #expect(contexts.count == 2, "\(parents)")
            #expect(contexts.allSatisfy { $0.traceIDHex == "4bf92f3577b34da6a3ce929d0e0e4736" && $0.isSampled })
            #expect(!parents.contains(Self.clientParent), "each try is a span of its own")
            #expect(Set(contexts.compactMap(\.clientSpanID)).count == 2)
            #expect(
                stub.requests.map { $0.header("tracestate") } == ["vendor=opaque,other=1", "vendor=opaque,other=1"])
        }
    }

    @Test func aRequestWithoutTraceStartsOneAndTheAccessLogNamesIt() async throws {
        try await withStub({ _ in .respond(Self.ok) }) { stub in
            let simulator = try await VendorSimulator.start()
            let lines = OpsLines()
            let yaml = """
                server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, tracing: { sample_ratio: 1 } }
                upstreams:
                  stub: { url: "http://127.0.0.1:\(stub.port)" }
                routes:
                  - { path_prefix: /api/, strip_prefix: true, upstream: stub }

                """
            try await withOpsGateway(yaml: yaml, accessLog: lines.accessLog, stopping: simulator) { gateway in
                let new = try await opsRequest(
                    port: gateway.proxyPort, "/api/new", headers: [("tracestate", "orphan=1")])
                let bad = try await opsRequest(port: gateway.proxyPort, "/api/bad", headers: [("traceparent", "00-zz")])
                #expect(new.status == 200)
                #expect(bad.status == 200)
                let logged = await eventually(within: .seconds(10)) { lines.all.count == 2 }
                #expect(logged)
            }
            let sent = stub.requests.compactMap { $0.header("traceparent").flatMap(TraceContext.parse) }
            #expect(sent.count == 2)
            #expect(sent.allSatisfy { $0.isSampled })
            #expect(sent[0].traceIDHex != sent[1].traceIDHex)
            #expect(stub.requests.allSatisfy { $0.header("tracestate") == nil }, "no tracestate without its parent")
            let logged = lines.objects.compactMap { $0["trace_id"] as? String }
            #expect(Set(logged) == Set(sent.map(\.traceIDHex)), "\(lines.all)")
        }
    }
}
