import Foundation
import GatewayTestSupport
import NIOConcurrencyHelpers
import Testing

/// `http_version` and `max_connections` against a real HTTP/2 server: nginx with `http2` on its TLS listener, its
/// access log saying which protocol and which connection each request came over.
@Suite struct UpstreamHTTP2Tests {
    /// Runs `body` with a fresh PKI and nginx (optionally in front of a stub backend), then stops and removes both.
    static func withNginx<T: Sendable>(
        backendPort: Int? = nil, tls: Bool = true, http2: Bool = true,
        _ body: (LoopbackDaemon, TestPKI) async throws -> T
    ) async throws -> T {
        let pki = try TestPKI.make()
        defer { pki.remove() }
        return try await HTTP2Nginx.start(pki: pki, backendPort: backendPort, tls: tls, http2: http2).run { nginx in
            try await body(nginx, pki)
        }
    }

    static func config(nginx: LoopbackDaemon, pki: TestPKI, _ lines: String) -> String {
        simpleConfig(
            url: "https://127.0.0.1:\(nginx.port)",
            upstream: "    tls: { ca_file: \(pki.caCertificate) }\n" + lines)
    }

    /// `count` concurrent GETs of `target`; their statuses.
    static func concurrently(_ gateway: RunningGateway, _ target: String, count: Int) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<count { group.addTask { try await gateway.request("GET", target).status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// nginx logs a request once it has answered it: wait for the lines of `uri` to number `count`.
    static func logged(_ nginx: LoopbackDaemon, uri: String, count: Int) async -> [HTTP2Nginx.LogLine] {
        _ = await eventually(within: .seconds(30)) {
            HTTP2Nginx.accessLog(of: nginx).filter { $0.uri == uri }.count >= count
        }
        return HTTP2Nginx.accessLog(of: nginx).filter { $0.uri == uri }
    }

    @Test func concurrentRequestsArriveOverHTTP2OnFewConnections() async throws {
        try await Self.withNginx { nginx, pki in
            try await withGateway(yaml: Self.config(nginx: nginx, pki: pki, "    max_connections: 4\n")) { gateway in
                let statuses = try await Self.concurrently(gateway, "/api/hello", count: 40)
                #expect(statuses == Array(repeating: 200, count: 40))
            }
            let lines = await Self.logged(nginx, uri: "/hello", count: 40)
            #expect(lines.count == 40)
            #expect(lines.allSatisfy { $0.serverProtocol == "HTTP/2.0" }, "\(lines)")
            let connections = Set(lines.map(\.connection))
            #expect(connections.count <= 4, "40 requests over \(connections.count) connections")
        }
    }

    @Test func http11IsKeptWhenAskedAndMaxConnectionsBoundsIt() async throws {
        try await Self.withNginx { nginx, pki in
            let yaml = Self.config(nginx: nginx, pki: pki, "    http_version: \"1.1\"\n    max_connections: 2\n")
            try await withGateway(yaml: yaml) { gateway in
                let statuses = try await Self.concurrently(gateway, "/api/hello", count: 12)
                #expect(statuses == Array(repeating: 200, count: 12))
            }
            let lines = await Self.logged(nginx, uri: "/hello", count: 12)
            #expect(lines.count == 12)
            #expect(lines.allSatisfy { $0.serverProtocol == "HTTP/1.1" }, "\(lines)")
            #expect(Set(lines.map(\.connection)).count <= 2, "\(lines)")
        }
    }

    /// `auto` against a TLS upstream that offers only HTTP/1.1: requests still run side by side, each on a connection
    /// of its own (waiting for a connection to multiplex on must not serialize them).
    @Test func autoAgainstAnHTTP11OnlyTLSUpstreamKeepsRequestsConcurrent() async throws {
        try await withSimulator { simulator in
            try await Self.withNginx(backendPort: simulator.port, http2: false) { nginx, pki in
                try await withGateway(yaml: Self.config(nginx: nginx, pki: pki, "")) { gateway in
                    // An order of events, not a stopwatch: each answer comes 2 s after its request reached the
                    // backend, so when the first answer is back, all four have arrived only if they ran side by side.
                    let arrivedAtFirstAnswer = NIOLockedValueBox<Int?>(nil)
                    let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                        for _ in 0..<4 {
                            group.addTask {
                                let response = try await gateway.request(
                                    "GET", "/api/backend/dokstamp/certificates?delay=2s")
                                let arrived = simulator.requestCount(path: "/dokstamp/certificates")
                                arrivedAtFirstAnswer.withLockedValue { $0 = $0 ?? arrived }
                                return response.status
                            }
                        }
                        return try await group.reduce(into: [Int]()) { $0.append($1) }
                    }
                    #expect(statuses == [200, 200, 200, 200])
                    let arrived = arrivedAtFirstAnswer.withLockedValue { $0 }
                    #expect(arrived == 4, "\(arrived ?? 0) of 4 requests had reached the backend at the first answer")
                }
                let lines = await Self.logged(nginx, uri: "/backend/dokstamp/certificates?delay=2s", count: 4)
                #expect(lines.count == 4)
                #expect(lines.allSatisfy { $0.serverProtocol == "HTTP/1.1" })
                #expect(Set(lines.map(\.connection)).count == 4)
            }
        }
    }

    @Test func http2OverPlainHTTPIsSpokenWithPriorKnowledge() async throws {
        try await Self.withNginx(tls: false) { nginx, _ in
            let yaml = simpleConfig(url: "http://127.0.0.1:\(nginx.port)", upstream: "    http_version: \"2\"\n")
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request("GET", "/api/hello")
                #expect(response.status == 200)
                #expect(response.bodyText == "hello\n")
            }
            let lines = await Self.logged(nginx, uri: "/hello", count: 1)
            #expect(lines.map(\.serverProtocol) == ["HTTP/2.0"])
        }
    }

    @Test func aLargeBodyStreamsWholeOverHTTP2() async throws {
        try await Self.withNginx { nginx, pki in
            try await withGateway(yaml: Self.config(nginx: nginx, pki: pki, "")) { gateway in
                let response = try await gateway.request("GET", "/api/big", timeout: .seconds(20))
                #expect(response.status == 200)
                #expect(response.body.count == HTTP2Nginx.bigBodySize)
                #expect(response.body == HTTP2Nginx.bigBody())
            }
            let lines = await Self.logged(nginx, uri: "/big", count: 1)
            #expect(lines.map(\.serverProtocol) == ["HTTP/2.0"])
        }
    }

    /// A client that stops reading pauses its HTTP/2 stream, and only that stream: the endless backend stops
    /// being read once the buffers on the way are full, and another request on the same upstream connection still
    /// gets through.
    @Test func aSlowClientPausesItsStreamAndOnlyIt() async throws {
        try await withStub({ _ in .streamForever }) { stub in
            try await Self.withNginx(backendPort: stub.port) { nginx, pki in
                // One event loop, so one curl engine: both requests can share its connection.
                try await withGateway(yaml: Self.config(nginx: nginx, pki: pki, ""), proxyLoops: 1) { gateway in
                    let client = try await CountingHTTPClient.connect(port: gateway.proxyPort)
                    try await client.send("GET /api/backend/endless HTTP/1.1\r\nHost: g\r\n\r\n")
                    #expect(try await client.readHead().status == 200)
                    client.readOnce()
                    // The client reads nothing more: what the backend sent must level off.
                    var plateau: Int64 = -1
                    let deadline = ContinuousClock.now + .seconds(15)
                    while ContinuousClock.now < deadline {
                        let before = stub.bytesStreamed
                        try await Task.sleep(for: .milliseconds(500))
                        if stub.bytesStreamed == before {
                            plateau = before
                            break
                        }
                    }
                    #expect(plateau > 0, "the backend never stopped being read: \(stub.bytesStreamed) bytes")
                    #expect(plateau < 128 << 20, "\(plateau >> 20) MiB buffered for a client that reads nothing")
                    print("HTTP/2 paused stream: the backend sent \(plateau >> 20) MiB before the stream stopped")
                    // The connection to nginx is shared: another request is not stuck behind the paused stream.
                    let other = try await gateway.request("GET", "/api/hello", timeout: .seconds(5))
                    #expect(other.status == 200)
                    await client.close()
                    // Generous: under a loaded machine a departed client is noticed late (README, "Open").
                    let closedAt = ContinuousClock.now
                    #expect(await eventually(within: .seconds(30)) { stub.openConnections == 0 })
                    print(
                        "HTTP/2 paused stream: backend closed \(ContinuousClock.now - closedAt) after the client left")
                }
                let hello = await Self.logged(nginx, uri: "/hello", count: 1)
                let endless = await Self.logged(nginx, uri: "/backend/endless", count: 1)
                #expect(Set((hello + endless).map(\.connection)).count == 1, "one multiplexed connection")
            }
        }
    }

    @Test func aRetriedStatusIsTriedAgainOverHTTP2() async throws {
        try await withStub(firstCallFails()) { stub in
            try await Self.withNginx(backendPort: stub.port) { nginx, pki in
                let yaml = Self.config(nginx: nginx, pki: pki, "    retry: { backoff: { base: 1ms, max: 2ms } }\n")
                try await withGateway(yaml: yaml) { gateway in
                    let response = try await gateway.request("GET", "/api/backend/retry")
                    #expect(response.status == 200)
                    #expect(response.header("gateway-attempts") == "2")
                }
                let lines = await Self.logged(nginx, uri: "/backend/retry", count: 2)
                #expect(lines.map(\.status) == [503, 200])
                #expect(lines.allSatisfy { $0.serverProtocol == "HTTP/2.0" })
            }
        }
    }

    @Test func aHeadThatDoesNotComeInTimeIsAnUpstreamTimeoutOverHTTP2() async throws {
        try await withStub({ _ in .hold }) { stub in
            try await Self.withNginx(backendPort: stub.port) { nginx, pki in
                let yaml = Self.config(
                    nginx: nginx, pki: pki,
                    "    timeouts: { per_try: 300ms, request: 10s }\n    retry: { attempts: 1 }\n")
                try await withGateway(yaml: yaml) { gateway in
                    let start = ContinuousClock.now
                    let response = try await gateway.request("GET", "/api/backend/slow")
                    #expect(response.status == 504)
                    #expect(Envelope(response).code == "upstream_timeout")
                    // Kept, and generous: the per-try timeout (300 ms) ended it, not the request's 10 s.
                    #expect(ContinuousClock.now - start < .seconds(5))
                }
                // The gateway reset the stream: nginx logs the request as closed by its client.
                let lines = await Self.logged(nginx, uri: "/backend/slow", count: 1)
                #expect(lines.map(\.status) == [499])
                #expect(lines.map(\.serverProtocol) == ["HTTP/2.0"])
            }
        }
    }

    @Test func aClientThatLeavesCancelsItsHTTP2Stream() async throws {
        try await withStub({ _ in .hold }) { stub in
            try await Self.withNginx(backendPort: stub.port) { nginx, pki in
                try await withGateway(yaml: Self.config(nginx: nginx, pki: pki, "")) { gateway in
                    let client = try await RawHTTPClient.connect(port: gateway.proxyPort)
                    try await client.send(RunningGateway.requestBytes("GET", "/api/backend/held"))
                    #expect(await eventually { stub.requests.count == 1 }, "the request reached the backend")
                    await client.close()
                    // nginx sees the stream reset (499) and drops its backend connection.
                    let lines = await Self.logged(nginx, uri: "/backend/held", count: 1)
                    #expect(lines.map(\.status) == [499])
                    #expect(await eventually { stub.closedConnections >= 1 })
                    // The upstream stays usable.
                    #expect(try await gateway.request("GET", "/api/hello").status == 200)
                }
            }
        }
    }
}
