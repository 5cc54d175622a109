import Foundation
import GatewayTestSupport
import Testing

/// Overload: bounded queues, bounded memory per connection, and resources back to baseline once a load stops.
@Suite("Hardening: overload", .serialized)
struct OverloadTests {
    /// TCP sockets of this process with `port` at one end (listening sockets excluded), counted through
    /// /proc/self/fd and /proc/net/tcp, so that other tests running in parallel do not disturb the count.
    static func openSockets(port: Int) -> Int {
        let owned = TCPSockets.inodes(ofProcess: "self")
        let suffix = TCPSockets.portSuffix(port)
        let inodes = TCPSockets.table().lazy
            .filter { !$0.isListening && ($0.local.hasSuffix(suffix) || $0.remote.hasSuffix(suffix)) }
            .map(\.inode)
            .filter(owned.contains)
        return Set(inodes).count
    }

    @Test func maxInFlightAnswers503WithRetryAfterAndRecovers() async throws {
        let upstream = try await BrokenUpstream.start { request in
            request.target.hasSuffix("/hang")
                ? .init("HTTP/1.1 200 OK\r\n", after: .hang) : .init("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        defer { Task { await upstream.shutdown() } }
        // The hanging tries must outlast the refusal of the third request, however loaded the machine (with a 2 s,
        // then a 6 s per-try timeout they ended first in parallel runs, and the third was admitted): they end when
        // their clients leave.
        try await withHardenedGateway(
            upstreams: ["up": "http://127.0.0.1:\(upstream.port)"],
            timeouts: "{ connect: 1s, per_try: 120s, request: 120s, idle: 120s }", upstreamExtra: ["max_in_flight: 2"]
        ) { port, _ in
            var hanging: [RawHTTPClient] = []
            for _ in 0..<2 {
                let client = try await RawHTTPClient.connect(port: port)
                try await client.send("GET /up/hang HTTP/1.1\r\nHost: x\r\n\r\n")
                hanging.append(client)
            }
            #expect(await eventually { upstream.requestCount == 2 })
            let third = try await RawHTTPClient.connect(port: port)
            try await third.send("GET /up/ok HTTP/1.1\r\nHost: x\r\n\r\n")
            let refused = try await third.readResponse()
            #expect(refused.status == 503)
            #expect(refused.header("retry-after") == "1")
            #expect(refused.bodyText.contains("\"retry_after\":1"))
            #expect(upstream.requestCount == 2)
            // The hanging ones' clients leave: their tries are cancelled and their slots given back, after which
            // requests are admitted again.
            for client in hanging { await client.close() }
            let admitted = await eventually(within: .seconds(30)) {
                guard let client = try? await RawHTTPClient.connect(port: port) else { return false }
                try? await client.send("GET /up/ok HTTP/1.1\r\nHost: x\r\n\r\n")
                let status = (try? await client.readResponse())?.status
                await client.close()
                return status == 200
            }
            #expect(admitted, "requests were still refused after the hanging ones' clients left")
            #expect(upstream.requestCount == 3)
        }
    }

    /// Run in a child process of its own (``IsolatedTest``): the resident size is process-wide, and tests running
    /// beside it in the suite's process would move it.
    @Test func idleConnectionsAreCheapAndResourcesReturnToBaseline() async throws {
        let outcome = try await IsolatedTest.run("OverloadTests/idleConnectionsAreCheapAndResourcesReturnToBaseline") {
            try await OverloadTests().measureIdleConnections()
        }
        #expect(outcome.passed, "\(outcome.report)")
    }

    private func measureIdleConnections() async throws {
        try await withHardenedGateway(upstreams: ["up": "http://127.0.0.1:9"]) { port, _ in
            // Warm up the loops and allocator, then take the baseline.
            try await self.openServeAndClose(count: 50, port: port)
            #expect(await eventually(within: .seconds(5)) { Self.openSockets(port: port) == 0 })
            let baseRSS = ProcessMemory.residentBytes()

            let count = 1000
            let clients = try await self.openAndServe(count: count, port: port)
            let loadedRSS = ProcessMemory.residentBytes()
            let perConnection = (loadedRSS - baseRSS) / count
            // Both ends of each connection live in this process: the bound holds for the pair.
            #expect(perConnection < 100 * 1024, "\(perConnection) bytes per idle connection")
            #expect(Self.openSockets(port: port) == 2 * count)

            for client in clients { await client.close() }
            #expect(await eventually(within: .seconds(5)) { Self.openSockets(port: port) == 0 })
            let afterFirst = ProcessMemory.residentBytes()

            // A second identical wave must not leave more behind: no per-connection leak.
            try await self.openServeAndClose(count: count, port: port)
            #expect(await eventually(within: .seconds(5)) { Self.openSockets(port: port) == 0 })
            let afterSecond = ProcessMemory.residentBytes()
            #expect(afterSecond - afterFirst < 16 * 1024 * 1024, "RSS grew \(afterSecond - afterFirst) bytes")
        }
    }

    private func openAndServe(count: Int, port: Int) async throws -> [RawHTTPClient] {
        var clients: [RawHTTPClient] = []
        clients.reserveCapacity(count)
        for _ in 0..<count {
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
            clients.append(client)
        }
        for client in clients {
            #expect(try await client.readResponse().status == 404)
        }
        return clients
    }

    private func openServeAndClose(count: Int, port: Int) async throws {
        for client in try await self.openAndServe(count: count, port: port) { await client.close() }
    }
}
