import Foundation
import GatewayTestSupport
import Testing

/// Upstream TLS through libcurl: a private CA is trusted only with `tls.ca_file`; client certificates are presented.
@Suite("Hardening: upstream TLS")
struct UpstreamTLSTests {
    /// Generous: a TLS handshake on a loaded machine running the suite in parallel took longer than the hardening
    /// defaults (1 s connect, 2 s per try) once, and what these tests check is trust, not speed.
    static let timeouts = "{ connect: 10s, per_try: 20s, request: 20s, idle: 20s }"

    @Test func privateCAWorksWithCAFileAndFailsWithout() async throws {
        let pki = try TestPKI.make()
        defer { pki.remove() }
        let upstream = try await TLSUpstream.start(certificate: pki.serverCertificate, key: pki.serverKey)
        defer { Task { await upstream.shutdown() } }
        try await withHardenedGateway(
            upstreams: ["trusted": "https://localhost:\(upstream.port)"], timeouts: Self.timeouts,
            upstreamExtra: ["tls: { ca_file: \(pki.caCertificate) }"]
        ) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send("GET /trusted/x HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try await client.readResponse(timeout: .seconds(30))
            #expect(response.status == 200)
            #expect(response.bodyText == "tls-ok")
        }
        #expect(upstream.answered == 1)
        try await withHardenedGateway(
            upstreams: ["untrusted": "https://localhost:\(upstream.port)"], timeouts: Self.timeouts
        ) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send("GET /untrusted/x HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try await client.readResponse(timeout: .seconds(30))
            #expect(response.status == 502)
            let document = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            #expect(document?["code"] as? String == "upstream_unavailable")
        }
        #expect(upstream.answered == 1)
    }

    @Test func clientCertificateIsPresentedWhenConfigured() async throws {
        let pki = try TestPKI.make()
        defer { pki.remove() }
        let upstream = try await TLSUpstream.start(
            certificate: pki.serverCertificate, key: pki.serverKey, clientCA: pki.caCertificate)
        defer { Task { await upstream.shutdown() } }
        try await withHardenedGateway(
            upstreams: ["mtls": "https://localhost:\(upstream.port)"], timeouts: Self.timeouts,
            upstreamExtra: [
                "tls: { ca_file: \(pki.caCertificate), client_certificate: \(pki.clientCertificate), "
                    + "client_key: \(pki.clientKey) }"
            ]
        ) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send("GET /mtls/x HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try await client.readResponse(timeout: .seconds(30))
            #expect(response.status == 200)
            #expect(response.bodyText == "tls-ok")
        }
        try await withHardenedGateway(
            upstreams: ["nocert": "https://localhost:\(upstream.port)"], timeouts: Self.timeouts,
            upstreamExtra: ["tls: { ca_file: \(pki.caCertificate) }"]
        ) { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send("GET /nocert/x HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().status == 502)
        }
        #expect(upstream.answered == 1)
    }

    @Test func gatewayTerminatesTLSFromConfig() async throws {
        let pki = try TestPKI.make()
        defer { pki.remove() }
        let upstream = try await BrokenUpstream.start { _ in .init("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") }
        defer { Task { await upstream.shutdown() } }
        try await withHardenedGateway(
            upstreams: ["up": "http://127.0.0.1:\(upstream.port)"], timeouts: Self.timeouts,
            serverExtra: ["tls: { certificate: \(pki.serverCertificate), private_key: \(pki.serverKey) }"]
        ) { port, _ in
            let result = try await TLSTestClient.get(port: port, caFile: pki.caCertificate, path: "/up/x")
            #expect(result.response.hasPrefix("HTTP/1.1 200"))
            #expect(result.response.hasSuffix("ok"))
        }
    }
}
