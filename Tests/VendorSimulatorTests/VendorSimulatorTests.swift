import GatewayTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import VendorSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a simulator on 127.0.0.1:0, runs `body` with it, and shuts it down.
private func withSimulator<T>(
    _ body: (VendorSimulator) async throws -> T
) async throws -> T {
    let simulator = try await VendorSimulator.start()
    do {
        let result = try await body(simulator)
        try await simulator.shutdown()
        return result
    } catch {
        try? await simulator.shutdown()
        throw error
    }
}

/// Sends `request` to the simulator on a new connection and reads until it closes.
private func exchange(
    _ simulator: VendorSimulator, _ request: String, keep: Int = .max, timeout: Duration = .seconds(10)
) async throws -> RawHTTPClient.Exchange {
    try await RawHTTPClient.exchange(port: simulator.port, request, keep: keep, timeout: timeout)
}

/// The one response to `request`, sent on a new connection.
private func response(
    _ simulator: VendorSimulator, _ request: String, headRequest: Bool = false
) async throws -> RawHTTPClient.Response {
    try RawHTTPClient.Response.parse(await exchange(simulator, request).bytes, headRequest: headRequest).response
}

/// The one response to `method target` (with `Connection: close`).
private func get(
    _ simulator: VendorSimulator, _ target: String, method: String = "GET"
) async throws -> RawHTTPClient.Response {
    try await response(simulator, rawRequest(method, target), headRequest: method == "HEAD")
}

/// Builds a request head for the tests.
private func rawRequest(
    _ method: String = "GET",
    _ target: String,
    headers: [(String, String)] = [],
    body: String? = nil,
    close: Bool = true
) -> String {
    var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for (name, value) in headers {
        text += "\(name): \(value)\r\n"
    }
    if let body {
        text += "Content-Length: \(body.utf8.count)\r\n"
    }
    if close {
        text += "Connection: close\r\n"
    }
    return text + "\r\n" + (body ?? "")
}

private func unixNow() -> Int {
    Int(time(nil))
}

@Suite("VendorSimulator over real sockets")
struct VendorSimulatorTests {
    @Test("every catalog entry answers its status, headers and exact body")
    func catalogEntries() async throws {
        try await withSimulator { simulator in
            for example in VendorSimulator.catalog {
                let before = unixNow()
                let response = try await get(simulator, "/\(example.vendor)/resource?error=\(example.name)")
                let after = unixNow()
                let label = "\(example.vendor)/\(example.name)"
                #expect(response.status == example.status, "\(label)")
                #expect(response.body == Array(example.body.utf8), "\(label)")
                #expect(response.header("Content-Type") == example.contentType, "\(label)")
                #expect(response.header("Content-Length") == String(example.body.utf8.count), "\(label)")
                // Time-based values are made at some second between `before` and `after`: under load that can be
                // more than one second apart, so every second of the window is accepted.
                let resolved = (before...after).map { example.resolvedHeaders(unixTime: $0) }
                for (index, header) in resolved[0].enumerated() {
                    let sent = response.headers.filter { $0.name == header.name }.map(\.value)
                    #expect(sent.count == 1, "\(label) \(header.name)")
                    #expect(resolved.contains { sent.first == $0[index].value }, "\(label) \(header.name)")
                }
            }
            #expect(simulator.requestCount() == VendorSimulator.catalog.count)
        }
    }

    @Test("the catalog holds every example the seed pages name, with the documented status")
    func catalogCoversSeeds() {
        let expected: [(String, String, Int)] = [
            ("dokstamp", "validation", 422), ("dokstamp", "unauthenticated", 401), ("dokstamp", "not_found", 404),
            ("dokstamp", "server", 500),
            ("certifier", "missing_version", 400), ("certifier", "invalid_version", 400),
            ("certifier", "invalid_json", 400), ("certifier", "validation_error", 400),
            ("certifier", "unauthorized", 401), ("certifier", "payment_required", 402),
            ("certifier", "forbidden", 403), ("certifier", "not_found", 404), ("certifier", "conflict", 409),
            ("certifier", "rate_limited", 429), ("certifier", "internal_server_error", 500),
            ("docyard", "bad_request", 400), ("docyard", "validation", 400), ("docyard", "401", 401),
            ("docyard", "403", 403), ("docyard", "404", 404), ("docyard", "409", 409), ("docyard", "422", 422),
            ("docyard", "429", 429), ("docyard", "500", 500), ("docyard", "503", 503),
            ("dokai", "invalid_api_key", 401), ("dokai", "key_expired", 401), ("dokai", "unauthorized", 401),
            ("dokai", "forbidden", 403), ("dokai", "not_found", 404), ("dokai", "result_expired", 410),
            ("dokai", "validation_error", 422), ("dokai", "invalid_file_type", 422),
            ("dokai", "file_too_large", 422), ("dokai", "invalid_document_type", 422),
            ("dokai", "invalid_document_brand", 422), ("dokai", "webhook_invalid_url", 422),
            ("dokai", "webhook_domain_not_allowed", 422), ("dokai", "quota_exceeded", 429),
            ("dokai", "rate_limited", 429), ("dokai", "processing_failed", 500), ("dokai", "ocr_failed", 500),
            ("dokai", "internal_error", 500),
            ("stemp", "resource_not_found", 404), ("stemp", "wrong_param_type", 400),
            ("stemp", "access_denied", 403), ("stemp", "invitation_already_exists", 409),
            ("stemp", "standard_validation", 422), ("stemp", "custom_validation", 422),
            ("stemp", "rate_limited", 429), ("stemp", "server", 500), ("stemp", "oauth", 400),
            ("stemp", "invalid_client", 401),
        ]
        for (vendor, name, status) in expected {
            let example = VendorSimulator.errorExample(vendor: vendor, name: name)
            #expect(example?.status == status, "\(vendor)/\(name)")
        }
        // Bodies marked verbatim appear as they are on the seed pages (spot checks of each vendor).
        #expect(VendorSimulator.errorExample(vendor: "dokstamp", name: "validation")?.isVerbatim == true)
        #expect(
            VendorSimulator.errorExample(vendor: "docyard", name: "validation")?.body.contains(
                "\"name must be a string\""
            ) == true
        )
        #expect(
            VendorSimulator.errorExample(vendor: "stemp", name: "oauth")?.body.contains(
                "Authorization code is expired or already used"
            ) == true
        )
        let dokaiRateLimited = VendorSimulator.errorExample(vendor: "dokai", name: "rate_limited")
        #expect(dokaiRateLimited?.headers.contains(where: { $0 == ("X-RateLimit-Remaining", "0") }) == true)
        #expect(
            VendorSimulator.errorExample(vendor: "docyard", name: "rate_limited")?.headers.contains(where: {
                $0.name == "Retry-After"
            }) == true
        )
        // Names are unique per vendor.
        let keys = VendorSimulator.catalog.map { "\($0.vendor)/\($0.name)" }
        #expect(Set(keys).count == keys.count)
    }

    @Test("vendor success endpoints and each vendor's own 404")
    func successEndpoints() async throws {
        try await withSimulator { simulator in
            let cases: [(String, String, Int, String)] = [
                ("GET", "/dokstamp/certificates", 200, #"{"success":true,"data":["#),
                ("POST", "/dokstamp/certificates", 201, #"{"success":true,"data":{"#),
                ("GET", "/certifier/credentials", 200, #""data":["#),
                ("POST", "/certifier/credentials", 201, #""status":"issued""#),
                ("GET", "/docyard/docks", 200, #""total":1"#),
                ("POST", "/dokai/v1/parse", 200, #""status":"completed""#),
                ("GET", "/stemp/v1/users", 200, #""email":"jane@example.com""#),
                ("GET", "/dokstamp/nope", 404, #""message": "Resource not found.""#),
                ("GET", "/certifier/nope", 404, #""code":"not_found""#),
                ("GET", "/docyard/nope", 404, #""message":"Cannot GET /nope""#),
                ("GET", "/dokai/nope", 404, #""code":"not_found""#),
                ("GET", "/stemp/nope", 404, #""code": "resource_not_found""#),
            ]
            for (method, target, status, fragment) in cases {
                let response = try await get(simulator, target, method: method)
                #expect(response.status == status, "\(method) \(target)")
                #expect(response.bodyText.contains(fragment), "\(method) \(target): \(response.bodyText)")
            }
            let deleted = try await get(simulator, "/dokstamp/certificates/550e8400", method: "DELETE")
            #expect(deleted.status == 204)
            #expect(deleted.body.isEmpty)

            let now = unixNow()
            let parse = try await get(simulator, "/dokai/v1/parse", method: "POST")
            for name in ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-Quota-Limit", "X-Quota-Remaining"] {
                #expect(parse.header(name) != nil, "\(name)")
            }
            let reset = try #require(parse.header("X-RateLimit-Reset").flatMap { Int($0) })
            #expect(reset > now)
            let quotaReset = try #require(parse.header("X-Quota-Reset").flatMap { Int($0) })
            #expect(quotaReset > now)
            // X-RateLimit-* on every Dokai response, errors included.
            #expect(try await get(simulator, "/dokai/nope").header("X-RateLimit-Limit") == "60")

            let head = try await get(simulator, "/stemp/v1/users", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(head.header("Content-Length").flatMap { Int($0) } ?? 0 > 0)
        }
    }

    @Test("fail=N&key=K fails the first N requests of K, then succeeds; reset() forgets")
    func failThenSucceed() async throws {
        try await withSimulator { simulator in
            let target = "/docyard/docks?fail=2&key=retry-1&fail_retry_after=3"
            let first = try await get(simulator, target)
            let second = try await get(simulator, target)
            let third = try await get(simulator, target)
            #expect(first.status == 503)
            #expect(first.header("Retry-After") == "3")
            #expect(first.bodyText.contains(#""statusCode":503"#))  // Docyard's own 503 shape
            #expect(second.status == 503)
            #expect(third.status == 200)
            #expect(third.bodyText.contains("dck_"))
            // Another key has its own count.
            #expect(try await get(simulator, "/docyard/docks?fail=1&key=other").status == 503)
            #expect(try await get(simulator, "/docyard/docks?fail=1&key=other").status == 200)
            // fail_status and the header form.
            let custom = try await response(
                simulator,
                rawRequest(
                    "GET", "/x/y", headers: [("X-Sim-Fail", "1"), ("X-Sim-Key", "h"), ("X-Sim-Fail-Status", "502")])
            )
            #expect(custom.status == 502)
            simulator.reset()
            #expect(try await get(simulator, target).status == 503)
            #expect(simulator.requestCount() == 1)
        }
    }

    @Test("delay=250ms holds the head back; body_delay holds the body")
    func delays() async throws {
        try await withSimulator { simulator in
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await get(simulator, "/dokstamp/certificates?delay=250ms")
            #expect(clock.now - start >= .milliseconds(250))
            #expect(response.status == 200)

            let bodyStart = clock.now
            let delayed = try await get(simulator, "/dokstamp/certificates?body_delay=0.2s")
            #expect(clock.now - bodyStart >= .milliseconds(200))
            #expect(delayed.bodyText.hasPrefix(#"{"success":true"#))

            let streamStart = clock.now
            let stream = try await get(simulator, "/x?size=200KiB&body_delay=100ms")
            #expect(clock.now - streamStart >= .milliseconds(300))  // 4 chunks, 3 pauses
            #expect(stream.body.count == 200 * 1024)
        }
    }

    @Test("hang=true never answers")
    func hang() async throws {
        try await withSimulator { simulator in
            let outcome = try await exchange(
                simulator, rawRequest("GET", "/dokai/v1/usage?hang=true"), timeout: .milliseconds(300))
            #expect(outcome.ending == .timedOut)
            #expect(outcome.total == 0)
            #expect(simulator.requestCount(path: "/dokai/v1/usage") == 1)
        }
    }

    /// Run in a child process of its own (``IsolatedTest``): the resident size is process-wide, and tests running
    /// beside it in the suite's process would move it.
    @Test("size=50MiB streams the right bytes in bounded memory")
    func largeStream() async throws {
        let outcome = try await IsolatedTest.run("VendorSimulatorTests/largeStream") {
            try await Self.streamFiftyMebibytes()
        }
        #expect(outcome.passed, "\(outcome.report)")
    }

    private static func streamFiftyMebibytes() async throws {
        try await withSimulator { simulator in
            let size = 50 << 20
            let before = ProcessMemory.residentBytes()
            let outcome = try await exchange(simulator, rawRequest("GET", "/x?size=50MiB"), keep: 4096)
            let after = ProcessMemory.residentBytes()
            // Only the first 4 KiB were kept: the head, parsed alone (as a HEAD's), and the start of the body.
            let (response, bodyStart) = try RawHTTPClient.Response.parse(outcome.bytes, headRequest: true)
            #expect(response.status == 200)
            #expect(response.header("Content-Length") == String(size))
            let headLength = outcome.bytes.count - bodyStart.count
            #expect(outcome.total - headLength == size)
            #expect(outcome.ending == .closed)
            let pattern = VendorSimulator.streamedBodyPattern
            #expect(bodyStart.prefix(128) == ArraySlice(pattern + pattern))
            // Buffering the body anywhere would grow the process by 50 MiB.
            #expect(after - before < 16 << 20, "RSS grew by \(after - before) bytes")
        }
    }

    @Test("size with chunked=true streams a chunked body of the exact size and pattern")
    func chunkedStream() async throws {
        try await withSimulator { simulator in
            let size = 3 * 65536 + 5
            let response = try await get(simulator, "/x?size=\(size)&chunked=true")
            #expect(response.header("Transfer-Encoding")?.lowercased() == "chunked")
            #expect(response.header("Content-Length") == nil)
            #expect(response.body.count == size)
            let pattern = VendorSimulator.streamedBodyPattern
            #expect(response.body.enumerated().allSatisfy { $0.element == pattern[$0.offset % pattern.count] })
        }
    }

    @Test("malformed modes write exactly their raw bytes, then close", arguments: MalformedResponse.allCases)
    func malformed(mode: MalformedResponse) async throws {
        try await withSimulator { simulator in
            let outcome = try await exchange(
                simulator, rawRequest("GET", "/dokstamp/certificates?malformed=\(mode.rawValue)"))
            #expect(outcome.bytes == mode.bytes)
            #expect(outcome.ending == .closed)
        }
    }

    @Test("malformed bytes are what their names say")
    func malformedContents() {
        let text = { (mode: MalformedResponse) in String(decoding: mode.bytes, as: UTF8.self) }
        #expect(text(.doubleContentLength).contains("Content-Length: 5\r\nContent-Length: 7\r\n"))
        #expect(text(.status999).hasPrefix("HTTP/1.1 999 "))
        #expect(MalformedResponse.bareCRHeader.bytes.firstRange(of: Array("evil\rInjected".utf8)) != nil)
        #expect(text(.obsFold).contains("\r\n second\r\n"))
        #expect(text(.spaceBeforeColon).contains("Content-Length : 2\r\n"))
        #expect(text(.manyHeaders).components(separatedBy: "X-Many-").count - 1 == 10_000)
        #expect(text(.unrequested101).hasPrefix("HTTP/1.1 101 "))
        #expect(text(.earlyHints).hasPrefix("HTTP/1.1 103 Early Hints\r\n"))
        #expect(text(.earlyHints).contains("\r\n\r\nHTTP/1.1 200 OK\r\n"))
    }

    @Test("fail_mode reset gives the client ECONNRESET; close gives EOF before any byte; garbage is not HTTP")
    func failModes() async throws {
        try await withSimulator { simulator in
            let reset = try await exchange(
                simulator, rawRequest("GET", "/certifier/credentials?fail=1&fail_mode=reset"))
            #expect(reset.ending == .reset)
            #expect(reset.total == 0)
            let closed = try await exchange(
                simulator, rawRequest("GET", "/certifier/credentials?fail=1&key=c&fail_mode=close"))
            #expect(closed.ending == .closed)
            #expect(closed.total == 0)
            let garbage = try await exchange(simulator, rawRequest("GET", "/certifier/credentials?fail_mode=garbage"))
            #expect(garbage.bytes == ResponsePlan.garbage)
            #expect(garbage.ending == .closed)
            // After its one failure, the reset key succeeds.
            #expect(try await get(simulator, "/certifier/credentials?fail=1&fail_mode=reset").status == 200)
            #expect(simulator.requestCount(path: "/certifier/credentials") == 4)
        }
    }

    @Test("echo=true returns method, target, headers and body")
    func echo() async throws {
        try await withSimulator { simulator in
            let echoed = try await response(
                simulator,
                rawRequest(
                    "POST", "/stemp/v1/users?echo=true&q=a%20b", headers: [("X-Tenant", "t-1")],
                    body: #"{"a":"\"x\""}"#
                )
            )
            #expect(echoed.status == 200)
            let text = echoed.bodyText
            #expect(text.contains(#""method":"POST""#))
            #expect(text.contains(#""target":"/stemp/v1/users?echo=true&q=a%20b""#))
            #expect(text.contains(#"["X-Tenant","t-1"]"#))
            #expect(text.contains(#""body":"{\"a\":\"\\\"x\\\"\"}""#))

            var binary = Array(rawRequest("PUT", "/x?echo=1", body: "").utf8)
            binary =
                Array(
                    String(decoding: binary, as: UTF8.self).replacingOccurrences(
                        "Content-Length: 0", "Content-Length: 3"
                    )
                    .utf8
                ) + [0xFF, 0x00, 0xFE]
            let binaryResponse = try RawHTTPClient.Response.parse(
                await RawHTTPClient.exchange(port: simulator.port, binary).bytes
            ).response
            #expect(binaryResponse.bodyText.contains(#""body_base64":"/wD+""#))
        }
    }

    @Test("counters: requests per path, connections, last request, reset")
    func counters() async throws {
        try await withSimulator { simulator in
            _ = try await get(simulator, "/dokstamp/certificates?page=1")
            _ = try await get(simulator, "/dokstamp/certificates?page=2")
            _ = try await response(
                simulator, rawRequest("POST", "/dokai/v1/parse", headers: [("X-Api", "k")], body: "img"))
            #expect(simulator.requestCount() == 3)
            #expect(simulator.requestCount(path: "/dokstamp/certificates") == 2)
            #expect(simulator.requestCount(path: "/dokai/v1/parse") == 1)
            #expect(simulator.requestCount(path: "/nothing") == 0)
            #expect(simulator.connectionCount() == 3)
            let last = try #require(simulator.lastRequest())
            #expect(last.method == "POST")
            #expect(last.target == "/dokai/v1/parse")
            #expect(last.body == Array("img".utf8))
            #expect(last.header("x-api") == "k")
            #expect(simulator.lastRequest(path: "/dokstamp/certificates")?.target == "/dokstamp/certificates?page=2")
            #expect(simulator.requests().map(\.target).count == 3)
            simulator.reset()
            #expect(simulator.requestCount() == 0)
            #expect(simulator.connectionCount() == 0)
            #expect(simulator.lastRequest() == nil)
            #expect(simulator.requests().isEmpty)
        }
    }

    @Test("keep-alive: pipelined requests on one connection are answered in order")
    func pipelined() async throws {
        try await withSimulator { simulator in
            let request =
                rawRequest("GET", "/dokstamp/certificates?delay=50ms", close: false)
                + rawRequest("GET", "/stemp/v1/users")
            let outcome = try await exchange(simulator, request)
            let (first, rest) = try RawHTTPClient.Response.parse(outcome.bytes)
            let second = try RawHTTPClient.Response.parse(rest).response
            #expect(first.bodyText.contains(#""success":true"#))
            #expect(second.bodyText.contains("usr_"))
            #expect(second.header("Connection") == "close")
            #expect(simulator.connectionCount() == 1)
            #expect(simulator.requestCount() == 2)
        }
    }

    @Test("status/body/content_type, X-Sim-* headers, ratelimit=exhausted, bad control values")
    func scripting() async throws {
        try await withSimulator { simulator in
            let custom = try await get(simulator, "/x?status=418&body=short+and%20stout&content_type=text/x-teapot")
            #expect(custom.status == 418)
            #expect(custom.bodyText == "short and stout")
            #expect(custom.header("Content-Type") == "text/x-teapot")

            let viaHeader = try await response(
                simulator, rawRequest("GET", "/dokstamp/x", headers: [("X-Sim-Error", "validation")]))
            #expect(viaHeader.status == 422)

            let overridden = try await get(simulator, "/certifier/x?error=internal_server_error&status=503")
            #expect(overridden.status == 503)
            #expect(overridden.bodyText.contains("internal_server_error"))

            let now = unixNow()
            let exhausted = try await get(simulator, "/dokai/v1/parse?ratelimit=exhausted")
            #expect(exhausted.status == 429)
            #expect(exhausted.bodyText.contains(#""code":"rate_limited""#))
            #expect(exhausted.header("X-RateLimit-Limit") == "60")
            #expect(exhausted.header("X-RateLimit-Remaining") == "0")
            let reset = try #require(exhausted.header("X-RateLimit-Reset").flatMap { Int($0) })
            #expect(reset >= now + 30 && reset <= unixNow() + 30)

            // Bad input gets a 400, never a trap, and the simulator keeps serving.
            for value in ["1e300s", "1e300", "9223372036854775807", "1e15m"] {
                let huge = try await get(simulator, "/x?delay=\(value)")
                #expect(huge.status == 400, "delay=\(value)")
                let hugeBody = try await get(simulator, "/x?body_delay=\(value)")
                #expect(hugeBody.status == 400, "body_delay=\(value)")
            }
            let bad = try await get(simulator, "/x?delay=soon")
            #expect(bad.status == 400)
            #expect(bad.header("X-Sim-Error") == "true")
            #expect(try await get(simulator, "/dokai/x?error=no_such_error").status == 400)
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        self.split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }

    fileprivate func components(separatedBy separator: String) -> [Substring] {
        self.split(separator: separator, omittingEmptySubsequences: false)
    }
}
