import Foundation
import GatewayTestSupport
import Testing
import VendorSimulator

/// Streaming with backpressure (DESIGN.md step 5): a large body goes through in bounded memory, and a client that
/// goes away cancels the upstream transfer.
///
/// The memory test reads the resident size, which is process-wide: it runs in a child process of its own
/// (``IsolatedTest``), so the suite runs in parallel.
@Suite struct StreamingTests {
    static func residentBytes() -> Int64 {
        Int64(ProcessMemory.residentBytes())
    }

    @Test func largeResponseStreamsInBoundedMemoryToASlowClient() async throws {
        let outcome = try await IsolatedTest.run("StreamingTests/largeResponseStreamsInBoundedMemoryToASlowClient") {
            try await Self.streamToASlowClient()
        }
        #expect(outcome.passed, "\(outcome.report)")
    }

    private static func streamToASlowClient() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                let size: Int64 = 256 << 20
                let client = try await CountingHTTPClient.connect(port: gateway.proxyPort)
                let baseline = Self.residentBytes()
                var peak = baseline
                try await client.send("GET /api/blob?size=256MiB HTTP/1.1\r\nHost: g\r\n\r\n")
                let head = try await client.readHead()
                #expect(head.status == 200)
                #expect(head.header("content-length") == String(size))

                // The slow phase: fifty 64 KiB reads, 20 ms apart; meanwhile the upstream may only get ahead by what
                // the buffers hold.
                for _ in 0..<50 {
                    client.readOnce()
                    try await Task.sleep(for: .milliseconds(20))
                    peak = max(peak, Self.residentBytes())
                }
                let readSlowly = client.bodyBytes
                let slowPeak = peak
                #expect(readSlowly < 16 << 20, "the slow client read \(readSlowly) bytes in the slow phase")

                // Then keep reading as a paced reader (one 256 KiB read per millisecond or so, ~200 MB/s at
                // most), so the client stays the bottleneck and the upstream keeps being paused.
                try await client.setReadSize(256 << 10)
                let deadline = ContinuousClock.now + .seconds(30)
                var samples = 0
                while client.bodyBytes < size, !client.isClosed, ContinuousClock.now < deadline {
                    client.readOnce()
                    try await Task.sleep(for: .milliseconds(1))
                    samples += 1
                    if samples % 8 == 0 { peak = max(peak, Self.residentBytes()) }
                }
                #expect(client.bodyBytes == size)
                let pattern = VendorSimulator.streamedBodyPattern
                #expect(client.bodyPrefix == client.bodyPrefix.indices.map { pattern[$0 % pattern.count] })
                let growth = peak - baseline
                print(
                    "streaming 256 MiB: baseline \(baseline >> 20) MiB, peak \(peak >> 20) MiB, slow phase read \(readSlowly) bytes, slow peak \(slowPeak >> 20) MiB"
                )
                #expect(growth < 64 << 20, "the process grew by \(growth >> 20) MiB while streaming 256 MiB")
                await client.close()
            }
        }
    }

    @Test func clientDisconnectMidBodyCancelsTheUpstreamTransfer() async throws {
        try await withStub({ _ in .streamForever }) { stub in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(stub.port)")) { gateway in
                let client = try await CountingHTTPClient.connect(port: gateway.proxyPort)
                try await client.send("GET /api/endless HTTP/1.1\r\nHost: g\r\n\r\n")
                let head = try await client.readHead()
                #expect(head.status == 200)
                for _ in 0..<10 {
                    client.readOnce()
                    try await Task.sleep(for: .milliseconds(5))
                }
                #expect(client.bodyBytes > 0)
                #expect(stub.openConnections == 1)
                // The client now reads nothing: the upstream's stream pauses (its connection takes no more), having
                // sent no more than the bounded buffers between the two hold.
                let plateau = await stub.streamPlateau()
                #expect(plateau.map { $0 < 64 << 20 } == true, "the upstream kept streaming: \(stub.bytesStreamed)")
                // Reading again resumes it: the pause was backpressure from this client, not a stall. (The buffers
                // between the two drain first: large reads, and a deadline for a loaded machine.)
                let paused = stub.bytesStreamed
                try await client.setReadSize(1 << 20)
                let resumed = await eventually(within: .seconds(30)) {
                    client.readOnce()
                    return stub.bytesStreamed > paused
                }
                #expect(resumed, "the upstream did not resume when the client read again")
                await client.close()
                let closed = await eventually(within: .seconds(5)) { stub.openConnections == 0 }
                #expect(closed, "the upstream connection stayed open after the client went away")
                // Nothing more can be pulled: the connection the body came on is closed, by the gateway.
                #expect(stub.closedConnections == 1)
                #expect(stub.streamsPaused == 0)
            }
        }
    }

    /// Fifty times in a row: each time the client leaves before the upstream's head, the upstream connection closes
    /// at once. (A single round of this failed about 1 run in 10–20 of the whole suite, under load; run alone it
    /// passes on the code before issue 12 too, so it does not prove the cause gone: see the README's security
    /// section.)
    @Test func clientDisconnectBeforeTheHeadCancelsTheUpstreamRequest() async throws {
        let ok = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        try await withStub({ $0.requestLine.contains("/waiting") ? .hold : .respond(ok) }) { stub in
            let yaml = simpleConfig(url: "http://127.0.0.1:\(stub.port)", upstream: "    max_in_flight: 1")
            try await withGateway(yaml: yaml) { gateway in
                for round in 1...50 {
                    let client = try await RawHTTPClient.connect(port: gateway.proxyPort)
                    try await client.send(RunningGateway.requestBytes("GET", "/api/waiting"))
                    let expected = round
                    let arrived = await eventually { stub.requests.count == expected && stub.openConnections == 1 }
                    #expect(arrived, "round \(round): the request did not reach the upstream")
                    await client.close()
                    let closeStart = ContinuousClock.now
                    let closed = await eventually(within: .seconds(3)) { stub.openConnections == 0 }
                    if !closed {
                        // Diagnosis: did the try end (cancelled) at all, and does the connection close later?
                        let cancelledTries = try? await gateway.metrics().split(separator: "\n").first {
                            $0.hasPrefix("gateway_upstream_requests_total{") && $0.contains(#"outcome="cancelled""#)
                        }
                        let late = await eventually(within: .seconds(30)) { stub.openConnections == 0 }
                        Issue.record(
                            "round \(round): the upstream request stayed open \(ContinuousClock.now - closeStart) after its client went away (accepted \(stub.acceptedConnections), open \(stub.openConnections)); closed later: \(late); cancelled tries at 3 s: \(cancelledTries.map(String.init) ?? "none")"
                        )
                        break
                    }
                    // The request's max_in_flight slot is given back when its task ends, a moment after curl closed
                    // the connection: the next round waits for that, or its request could be refused with a 503 (it
                    // was, once, under load, and every later round then counted one request short).
                    let ended = await eventually {
                        let lines = ((try? await gateway.metrics()) ?? "").split(separator: "\n")
                        return lines.contains("gateway_inflight_requests 0")
                            || lines.contains("gateway_inflight_requests 0.0")
                    }
                    #expect(ended, "round \(round): the request did not end after its client left")
                }
                // Its max_in_flight slot was given back: the next request is served, not refused with 503.
                let next = try await gateway.request("GET", "/api/next", timeout: .seconds(5))
                #expect(next.status == 200)
                #expect(next.bodyText == "ok")
                // A try cut short by its client is counted as cancelled, never as a reset of the upstream.
                let lines = try await gateway.metrics().split(separator: "\n").filter {
                    $0.hasPrefix("gateway_upstream_requests_total{")
                }
                #expect(lines.contains { $0.contains(#"outcome="cancelled""#) && $0.hasSuffix(" 50") }, "\(lines)")
                #expect(!lines.contains { $0.contains(#"outcome="reset""#) }, "\(lines)")
            }
        }
    }

    @Test func manyConcurrentRequests() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<64 {
                        group.addTask {
                            let path =
                                index % 2 == 0
                                ? "/api/dokstamp/certificates?n=\(index)" : "/api/blob?size=200KiB&n=\(index)"
                            let response = try await gateway.request("GET", path)
                            if index % 2 == 1 { #expect(response.body.count == 200 * 1024) }
                            return response.status
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(statuses.count == 64)
                #expect(statuses.allSatisfy { $0 == 200 })
                #expect(sim.requestCount() == 64)
                let inflight = await eventually {
                    let lines = ((try? await gateway.metrics()) ?? "").split(separator: "\n")
                    return lines.contains("gateway_inflight_requests 0")
                        || lines.contains("gateway_inflight_requests 0.0")
                }
                #expect(inflight, "gateway_inflight_requests did not return to 0")
            }
        }
    }
}
