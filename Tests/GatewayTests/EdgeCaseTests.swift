import Foundation
import GatewayCore
import GatewayTestSupport
import Testing
import VendorSimulator

/// Less common paths through the proxy: bodiless responses, framing breaks after the head, streaming timeouts,
/// request framing refusals, `Max-Forwards`, exposure settings and vendor code mappings.
@Suite struct EdgeCaseTests {
    @Test func headAnd204PassThroughWithoutBody() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                try await withClient(port: gateway.proxyPort) { client in
                    try await client.send(RunningGateway.requestBytes("HEAD", "/api/dokstamp/certificates"))
                    let head = try await client.readResponse(headRequest: true)
                    #expect(head.status == 200)
                    #expect(head.body.isEmpty)
                    // Forwarded responses carry Date (RFC 9110 section 6.6.1; the simulator sends none).
                    #expect(head.header("date") != nil)
                    #expect(sim.lastRequest()?.method == "HEAD")
                    // The same connection still frames the next response correctly (no stray body bytes).
                    try await client.send(
                        RunningGateway.requestBytes("DELETE", "/api/dokstamp/certificates/550e8400"))
                    let deleted = try await client.readResponse()
                    #expect(deleted.status == 204)
                    #expect(deleted.body.isEmpty)
                    // HEAD of an upstream error: the envelope's head, no body.
                    try await client.send(
                        RunningGateway.requestBytes("HEAD", "/api/dokstamp/certificates?error=not_found"))
                    let headError = try await client.readResponse(headRequest: true)
                    #expect(headError.status == 404)
                    #expect(headError.body.isEmpty)
                    #expect(headError.header("x-request-id") != nil)
                    try await client.send(RunningGateway.requestBytes("GET", "/api/dokstamp/certificates/1"))
                    let next = try await client.readResponse()
                    #expect(next.status == 200)
                    #expect(next.bodyText.hasPrefix(#"{"success":true"#))
                    #expect(client.unreadBytes.isEmpty)
                }
            }
        }
    }

    @Test func chunkedUpstreamBodyIsReframed() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                let response = try await gateway.request("GET", "/api/blob?size=300KiB&chunked=true")
                #expect(response.status == 200)
                #expect(response.body.count == 300 * 1024)
                let pattern = VendorSimulator.streamedBodyPattern
                #expect(response.body.enumerated().allSatisfy { $0.element == pattern[$0.offset % pattern.count] })
            }
        }
    }

    @Test func upstreamBodyCutShortAbortsTheClientConnection() async throws {
        let short = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789".utf8)
        try await withStub({ _ in .respondAndClose(short) }) { stub in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(stub.port)")) { gateway in
                try await withClient(port: gateway.proxyPort) { client in
                    try await client.send(RunningGateway.requestBytes("GET", "/api/short"))
                    #expect(await client.isClosed(within: .seconds(5)), "the client connection was not aborted")
                    let received = client.unreadBytes
                    let text = String(decoding: received, as: UTF8.self)
                    #expect(text.hasPrefix("HTTP/1.1 200"))
                    // Whatever framing the gateway chose, the client must be able to tell the body is incomplete:
                    // no chunked terminator, and not 1000 body bytes.
                    #expect(!text.hasSuffix("0\r\n\r\n"))
                    if let headEnd = text.range(of: "\r\n\r\n") {
                        #expect(text[headEnd.upperBound...].utf8.count < 1000)
                    }
                }
            }
        }
    }

    @Test func stalledBodyIsBoundedByIdleNotPerTry() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)",
                upstream: "    timeouts: { connect: 1s, per_try: 2s, request: 2500ms, idle: 5s }")
            try await withGateway(yaml: yaml) { gateway in
                // 4 chunks 1 s apart: longer than per_try and request in total, never idle for 5 s. (The margins are
                // for a run in parallel on two loaded cores: at 500 ms, per_try ran out before the head came once.)
                let slow = try await gateway.request("GET", "/api/blob?size=256KiB&body_delay=1s")
                #expect(slow.status == 200)
                #expect(slow.body.count == 256 * 1024)

                // A body that stalls for longer than `idle` once the head went out: the connection is aborted.
                try await withClient(port: gateway.proxyPort) { client in
                    let start = ContinuousClock.now
                    try await client.send(
                        RunningGateway.requestBytes("GET", "/api/dokstamp/certificates?body_delay=20s"))
                    #expect(await client.isClosed(within: .seconds(15)), "a stalled body was not cut off by idle")
                    #expect(ContinuousClock.now - start >= .milliseconds(4900))
                    #expect(String(decoding: client.unreadBytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
                }
            }
        }
    }

    @Test func requestDeadlineBoundsAllRetries() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)",
                upstream: """
                        timeouts: { connect: 1s, per_try: 200ms, request: 500ms }
                        retry: { attempts: 10, backoff: { base: 10ms, max: 20ms } }
                    """)
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request("GET", "/api/dokstamp/certificates?hang=true")
                #expect(response.status == 504)
                #expect(Envelope(response).code == "upstream_timeout")
                // Counted, not timed: each try lasts its 200 ms, so within the 500 ms deadline at most three start;
                // without the deadline all ten would.
                #expect(sim.requestCount() <= 3)
            }
        }
    }

    @Test(arguments: [
        "POST /api/x HTTP/1.1\r\nHost: g\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /api/x HTTP/1.1\r\n\r\n",
        "POST /api/x HTTP/1.1\r\nHost: g\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ])
    func ambiguousRequestFramingIs400AndCloses(raw: String) async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                try await withClient(port: gateway.proxyPort) { client in
                    try await client.send(raw)
                    let response = try await client.readResponse()
                    #expect(response.status == 400)
                    #expect(Envelope(response).code == "bad_request")
                    #expect(Envelope(response).source == "gateway")
                    #expect(response.header("x-request-id") != nil)
                    #expect(response.header("connection")?.lowercased() == "close")
                    #expect(await client.isClosed(within: .seconds(2)))
                }
                #expect(sim.requestCount() == 0)
            }
        }
    }

    @Test func maxForwardsZeroIsAnsweredByTheGateway() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)")) { gateway in
                let options = try await gateway.request("OPTIONS", "/api/x", headers: [("Max-Forwards", "0")])
                #expect(options.status == 200)
                #expect(options.header("allow") != nil)
                let trace = try await gateway.request(
                    "TRACE", "/api/x", headers: [("Max-Forwards", "0"), ("Authorization", "Bearer secret")])
                #expect(trace.status == 200)
                #expect(trace.header("content-type") == "message/http")
                #expect(trace.bodyText.hasPrefix("TRACE /api/x HTTP/1.1"))
                #expect(!trace.bodyText.contains("secret"))
                #expect(sim.requestCount() == 0)
                let forwarded = try await gateway.request(
                    "OPTIONS", "/api/x?echo=true", headers: [("Max-Forwards", "1")])
                #expect(forwarded.status == 200)
                #expect(sim.requestCount() == 1)
                // Forwarded OPTIONS carry one hop fewer (RFC 9110 section 7.6.2).
                #expect(Echo(forwarded).header("Max-Forwards") == "0")
            }
        }
    }

    @Test func exposeUpstreamMessagesSettings() async throws {
        try await withSimulator { sim in
            for (setting, show4xx, show5xx) in [("all", true, true), ("none", false, false)] {
                let yaml = simpleConfig(
                    url: "http://127.0.0.1:\(sim.port)/dokstamp", upstream: "    dialect: dokstamp",
                    top: "errors:\n  expose_upstream_messages: \(setting)")
                try await withGateway(yaml: yaml) { gateway in
                    let notFound = Envelope(try await gateway.request("GET", "/api/certificates?error=not_found"))
                    #expect(notFound.code == "not_found")
                    #expect(
                        notFound.detail == (show4xx ? "Resource not found." : ErrorCode.notFound.neutralDetail),
                        "expose_upstream_messages: \(setting)")
                    let validation = Envelope(
                        try await gateway.request("POST", "/api/certificates?error=validation"))
                    #expect(validation.errorPointers == ["#/email", "#/email", "#/course_uuid"])
                    #expect(
                        validation.errorDetails.contains("The email field is required.") == show4xx,
                        "errors[].detail under expose_upstream_messages: \(setting)")
                    let server = Envelope(try await gateway.request("GET", "/api/certificates?error=server"))
                    #expect(
                        server.detail == (show5xx ? "Server Error" : ErrorCode.upstreamError.neutralDetail),
                        "expose_upstream_messages: \(setting)")
                }
            }
        }
    }

    @Test func configuredCodeMappingAndPointerDialect() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)/certifier",
                upstream: """
                        dialect:
                          code: /error/code
                          message: /error/message
                        codes:
                          conflict: permission_denied
                    """)
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request("POST", "/api/credentials?error=conflict")
                #expect(response.status == 409)
                let envelope = Envelope(response)
                #expect(envelope.code == "permission_denied")
                #expect(envelope.upstreamCode == "conflict")
                #expect(envelope.detail?.hasPrefix("The request could not be completed") == true)
            }
        }
    }

    @Test func graphQLErrorsInSuccess() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(url: "http://127.0.0.1:\(sim.port)", upstream: "    errors_in_success: true")
            try await withGateway(yaml: yaml) { gateway in
                let body = "%7B%22errors%22%3A%5B%7B%22message%22%3A%22Cannot%20query%20field%22%7D%5D%7D"
                let response = try await gateway.request(
                    "POST", "/api/graphql?status=200&content_type=application/json&body=\(body)")
                #expect(response.status >= 400)
                let envelope = Envelope(response)
                #expect(envelope.source == "upstream")
                #expect(envelope.upstreamStatus == .some(200))
                #expect(envelope.upstreamDialect == "graphql")

                let data =
                    "%7B%22data%22%3A%7B%22a%22%3A1%7D%2C%22errors%22%3A%5B%7B%22message%22%3A%22partial%22%7D%5D%7D"
                let partial = try await gateway.request(
                    "POST", "/api/graphql?status=200&content_type=application/json&body=\(data)")
                #expect(partial.status == 200)
                #expect(partial.bodyText == #"{"data":{"a":1},"errors":[{"message":"partial"}]}"#)
            }
        }
    }

    @Test func largeErrorBodyStillYieldsAnEnvelope() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(url: "http://127.0.0.1:\(sim.port)", upstream: "    retry: { attempts: 1 }")
            try await withGateway(yaml: yaml) { gateway in
                let response = try await gateway.request("GET", "/api/huge?status=500&size=2MiB")
                #expect(response.status == 500)
                let envelope = Envelope(response)
                #expect(envelope.code == "upstream_error")
                #expect(envelope.upstreamStatus == .some(500))
                #expect(response.body.count < 64 * 1024)
                #expect(try await gateway.request("GET", "/api/dokstamp/certificates").status == 200)
            }
        }
    }

    @Test func redirectsPassThroughUnfollowed() async throws {
        let redirect = Array(
            "HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/next\r\nContent-Length: 5\r\n\r\nmoved".utf8)
        try await withStub({ _ in .respond(redirect) }) { stub in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(stub.port)")) { gateway in
                let response = try await gateway.request("GET", "/api/old")
                #expect(response.status == 302)
                #expect(response.header("location") == "http://elsewhere.example/next")
                #expect(response.bodyText == "moved")
                #expect(stub.requests.count == 1)
            }
        }
    }

    @Test func htmlErrorPageBecomesAnEnvelope() async throws {
        try await withSimulator { sim in
            let yaml = simpleConfig(url: "http://127.0.0.1:\(sim.port)", upstream: "    retry: { attempts: 1 }")
            try await withGateway(yaml: yaml) { gateway in
                let html =
                    "%3Chtml%3E%3Cbody%3E%3Ch1%3EBad%20Gateway%3C%2Fh1%3Enginx%20secret-host-42%3C%2Fbody%3E%3C%2Fhtml%3E"
                let response = try await gateway.request(
                    "GET", "/api/x?status=502&content_type=text/html&body=\(html)")
                #expect(response.status == 502)
                #expect(response.header("content-type") == "application/problem+json")
                let envelope = Envelope(response)
                #expect(envelope.source == "upstream")
                #expect(envelope.code == "upstream_unavailable")
                #expect(envelope.upstreamStatus == .some(502))
                #expect(!response.bodyText.contains("<html"))
                #expect(!response.bodyText.contains("secret-host-42"))
            }
        }
    }

    /// RFC 3986 section 5.2.4, for checking where a target really points.
    static func removeDotSegments(_ path: String) -> String {
        var output: [Substring] = []
        let decoded = path.replacingOccurrences(of: "%2e", with: ".", options: .caseInsensitive)
        for segment in decoded.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            switch segment {
            case ".": continue
            case "..": if !output.isEmpty { output.removeLast() }
            default: output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/")
    }

    @Test(arguments: [
        "/api/../secret", "/api/a/../../secret", "/api/%2e%2e/secret", "/api/.%2E/secret", "/api/./../secret",
    ])
    func dotSegmentsCannotEscapeTheUpstreamBasePath(target: String) async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: simpleConfig(url: "http://127.0.0.1:\(sim.port)/dokstamp")) { gateway in
                let response = try await gateway.request("GET", target, headers: [("X-Sim-Echo", "true")])
                if let received = sim.lastRequest()?.path {
                    let resolved = Self.removeDotSegments(received)
                    #expect(
                        resolved.hasPrefix("/dokstamp/") || resolved == "/dokstamp",
                        "\(target) reached the upstream as \(received), i.e. \(resolved), outside /dokstamp")
                } else {
                    #expect(response.status == 400 || response.status == 404)
                }
            }
        }
    }
}
