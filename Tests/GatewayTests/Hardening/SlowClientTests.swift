import Foundation
import GatewayTestSupport
import Testing
import VendorSimulator

/// Clients that are slow on purpose (issue 12): a request body trickled just fast enough never to stall, and a TLS
/// handshake that never completes. Each is bounded by its own deadline, not by `idle_timeout`.
@Suite("Hardening: slow clients", .serialized)
struct SlowClientTests {
    /// A body deadline of 1 s (plus 1 s per KiB received), a generous stall timeout and idle timeout, so only the
    /// new deadline can end a trickled body.
    static func slowBodyConfig(simulatorPort: Int, tls: String = "") -> String {
        simpleConfig(
            url: "http://127.0.0.1:\(simulatorPort)", upstream: "    retry: { attempts: 1 }",
            top: """
                server:
                  access_log: false
                  request_header_timeout: 10s
                  idle_timeout: 30s
                  request_body_timeout: 1s
                  min_request_body_rate: 1KiB/s
                \(tls)
                """)
    }

    @Test func aBodyTrickledJustFastEnoughNotToStallGets408() async throws {
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        try await withGateway(yaml: Self.slowBodyConfig(simulatorPort: simulator.port)) { gateway in
            let port = gateway.proxyPort
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send("POST /api/dokstamp/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            let started = ContinuousClock.now
            // Ten bytes every 100 ms: never a stall of 10 s, far below 1 KiB/s.
            var response: RawHTTPClient.Response?
            while response == nil, ContinuousClock.now - started < .seconds(6) {
                try? await client.send(String(repeating: "a", count: 10))
                response = try? await client.readResponse(timeout: .milliseconds(100))
            }
            // The 408 came while the body was still trickling (within the 6 s of the loop), far before a stall of
            // 10 s could end it: the whole-body deadline did. No tighter stopwatch, which flaked under load.
            #expect(response?.status == 408, "\(String(describing: response))")
            #expect(response.map { Envelope($0).code } == "request_timeout")
            #expect(response?.header("connection") == "close")
            #expect(await client.isClosed(within: .seconds(2)))
            #expect(simulator.requestCount() == 0)
        }
    }

    @Test func aBodyAtTheMinimumRateIsServed() async throws {
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        try await withGateway(yaml: Self.slowBodyConfig(simulatorPort: simulator.port)) { gateway in
            let port = gateway.proxyPort
            // 16 KiB: 4 KiB at once, then twelve 1 KiB pieces 150 ms apart (~1.8 s): past the 1 s grace, yet far above
            // 1 KiB/s, so that each piece comes seconds before the deadline it earns (4 pieces of 512 B 350 ms apart
            // left a margin small enough for a loaded machine running the suite in parallel to miss it).
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send("POST /api/dokstamp/x?echo=true HTTP/1.1\r\nHost: x\r\nContent-Length: 16384\r\n\r\n")
            try await client.send(String(repeating: "b", count: 4096))
            for _ in 0..<12 {
                try await Task.sleep(for: .milliseconds(150))
                try await client.send(String(repeating: "b", count: 1024))
            }
            let response = try await client.readResponse(timeout: .seconds(5))
            #expect(response.status == 200, "\(response)")
            #expect(simulator.requestCount() == 1)
        }
    }

    @Test func slowhttptestSlowBodyConnectionsAreClosed() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/slowhttptest") else {
            Issue.record("slowhttptest is not installed: run scripts/install-deps")
            return
        }
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slowbody-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withGateway(yaml: Self.slowBodyConfig(simulatorPort: simulator.port)) { gateway in
            let port = gateway.proxyPort
            // Slow-body mode (R-U-Dead-Yet): 20 POSTs announcing 100 000 bytes, then up to 8 bytes a second each,
            // for at most 30 s. slowhttptest stops early once the server has closed every connection.
            let output = directory.appendingPathComponent("output.txt")
            let started = ContinuousClock.now
            let process = try SpawnedProcess(
                "/usr/bin/slowhttptest",
                [
                    "-B", "-c", "20", "-r", "20", "-i", "1", "-x", "8", "-s", "100000", "-l", "30",
                    "-u", "http://127.0.0.1:\(port)/api/dokstamp/upload",
                ],
                outputPath: output.path, currentDirectory: directory.path)
            defer { process.killNow() }
            let finished = await process.exit(within: .seconds(25)) != nil
            let elapsed = ContinuousClock.now - started
            let report = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            // Every slow body was refused at its deadline (1 s, plus 1 s per KiB received): slowhttptest ran out of
            // connections long before its 30 s.
            #expect(finished && elapsed < .seconds(15), "slowhttptest still ran after \(elapsed)")
            #expect(report.contains("No open connections left"), "\(report.suffix(600))")
            // None of the slow bodies reached the upstream (only slowhttptest's probe GETs may have).
            #expect(simulator.requests().allSatisfy { $0.method != "POST" })
        }
    }

    @Test func aTLSHandshakeThatNeverCompletesIsCutAtItsOwnTimeout() async throws {
        let pki = try TestPKI.make()
        defer { pki.remove() }
        let simulator = try await VendorSimulator.start()
        defer { Task { try? await simulator.shutdown() } }
        let tls =
            "  tls: { certificate: \(pki.serverCertificate), private_key: \(pki.serverKey), handshake_timeout: 3s }"
        try await withGateway(yaml: Self.slowBodyConfig(simulatorPort: simulator.port, tls: tls)) { gateway in
            let port = gateway.proxyPort
            // Silent, and trickling a ClientHello's first bytes: both are cut after 3 s, not after 30 s. (3 s, not
            // 500 ms: the real client below must complete its handshake within it on a loaded machine too.)
            let silent = try await RawHTTPClient.connect(port: port)
            let trickling = try await RawHTTPClient.connect(port: port)
            for byte: UInt8 in [0x16, 0x03, 0x01, 0x02, 0x00] {
                try? await trickling.send([byte])
                try await Task.sleep(for: .milliseconds(80))
            }
            // Each closed within 10 s: far before the 30 s idle timeout that would otherwise end them.
            #expect(await silent.isClosed(within: .seconds(10)))
            #expect(await trickling.isClosed(within: .seconds(10)))
            // A real client still completes its handshake and is served.
            let served = try await TLSTestClient.get(port: port, caFile: pki.caCertificate, path: "/api/dokstamp/x")
            #expect(served.response.hasPrefix("HTTP/1.1 "), "\(served.response)")
        }
    }
}
