import Foundation
import GatewayTestSupport
import Testing
import VendorSimulator

@testable import Gateway

/// One JSON line per request, nothing secret in it (SPEC section 2, `server.access_log`).
@Suite("Access log")
struct AccessLogTests {
    @Test("a record renders as one JSON line with RFC 3339 UTC time and a float duration")
    func rendering() throws {
        let record = AccessLogRecord(
            unixMilliseconds: 1_735_787_045_678, requestID: "req-1", clientAddress: "127.0.0.1", method: "GET",
            route: "sim", path: "/a\"b\n", status: 200, code: nil, upstream: "sim", attempts: 2, bytesIn: 3,
            bytesOut: 42, duration: .microseconds(12_345))
        let line = String(decoding: record.jsonLine(), as: UTF8.self)
        #expect(line.hasSuffix("}\n"))
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line.hasPrefix("{\"time\":\"2025-01-02T03:04:05.678Z\","))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["path"] as? String == "/a\"b\n")
        #expect(object["duration_ms"] as? Double == 12.345)
        #expect(object["code"] is NSNull)
        #expect(object["attempts"] as? Int == 2)
        #expect(object["bytes_out"] as? Int == 42)
        let padded = AccessLogRecord(
            unixMilliseconds: 5, requestID: "r", clientAddress: nil, method: "GET", route: "unmatched", path: "/",
            status: 404, code: "not_found", upstream: nil, attempts: 0, bytesIn: 0, bytesOut: 0, duration: .zero)
        #expect(String(decoding: padded.jsonLine(), as: UTF8.self).hasPrefix("{\"time\":\"1970-01-01T00:00:00.005Z\""))
    }

    @Test("every request and refusal is logged once, with what the proxy knew and no secrets")
    func linesPerRequestWithoutSecrets() async throws {
        let simulator = try await VendorSimulator.start()
        let lines = OpsLines()
        try await withOpsGateway(
            yaml: opsConfig(simulatorPort: simulator.port, server: "max_header_bytes: 2KiB"),
            accessLog: lines.accessLog, stopping: simulator
        ) { gateway in
            let secrets = [
                ("Authorization", "Bearer sekret-bearer-111"), ("Cookie", "session=sekret-cookie-222"),
                ("X-Api-Key", "sekret-apikey-333"),
            ]
            let ok = try await opsRequest(
                port: gateway.proxyPort, "POST", "/sim/dokstamp/certificates?token=sekret-query-444&fail=1&key=al",
                headers: secrets + [("X-Request-ID", "al-request-1"), ("Content-Type", "application/json")],
                body: "{\"name\":\"x\"}")
            let notFound = try await opsRequest(
                port: gateway.proxyPort, "/missing?api_key=sekret-query-555", headers: secrets)
            let tooLarge = try await opsRequest(
                port: gateway.proxyPort, "/sim/x?token=sekret-query-666",
                headers: secrets + [("X-Filler", String(repeating: "f", count: 4000))])
            #expect(tooLarge.status == 431)
            #expect(await eventually(within: .seconds(10)) { lines.all.count >= 3 })
            #expect(lines.all.count == 3)

            for line in lines.all {
                for marker in ["sekret", "token=", "api_key", "Bearer", "session="] {
                    #expect(!line.contains(marker), "\(marker) leaked: \(line)")
                }
            }
            let objects = lines.objects
            #expect(objects.count == 3)
            let first = try #require(objects.first { $0["request_id"] as? String == "al-request-1" })
            #expect(first["method"] as? String == "POST")
            #expect(first["route"] as? String == "sim")
            #expect(first["path"] as? String == "/sim/dokstamp/certificates")
            #expect(first["status"] as? Int == ok.status)
            #expect(first["upstream"] as? String == "sim")
            #expect(first["client"] as? String == "127.0.0.1")
            #expect(first["bytes_in"] as? Int == 12)
            #expect(first["bytes_out"] as? Int == ok.body.count)
            #expect((first["duration_ms"] as? Double ?? -1) >= 0)
            #expect((first["time"] as? String)?.hasSuffix("Z") == true)

            let second = try #require(objects.first { $0["path"] as? String == "/missing" })
            #expect(second["status"] as? Int == 404)
            #expect(second["route"] as? String == "unmatched")
            #expect(second["code"] as? String == "not_found")
            #expect(second["upstream"] is NSNull)
            #expect(second["attempts"] as? Int == 0)
            #expect(second["bytes_out"] as? Int == notFound.body.count)

            let third = try #require(objects.first { $0["status"] as? Int == 431 })
            #expect(third["code"] as? String == "header_too_large")
            #expect(third["path"] as? String == "/sim/x" || third["path"] as? String == "/")
        }
    }

    @Test("a retried request logs its attempts; access_log: false logs nothing")
    func attemptsAndSwitch() async throws {
        let simulator = try await VendorSimulator.start()
        let lines = OpsLines()
        try await withOpsGateway(
            yaml: opsConfig(simulatorPort: simulator.port), accessLog: lines.accessLog, stopping: simulator
        ) { gateway in
            #expect(
                try await opsRequest(port: gateway.proxyPort, "/sim/dokstamp/certificates?fail=1&key=attempts").status
                    == 200)
            #expect(await eventually(within: .seconds(10)) { lines.all.count == 1 })
            #expect(lines.objects.first?["attempts"] as? Int == 2)

            try gateway.writeConfig(opsConfig(simulatorPort: simulator.port, server: "access_log: false"))
            #expect(try await opsRequest(port: gateway.adminPort, "POST", "/reload").status == 200)
            for _ in 0..<3 {
                #expect(try await opsRequest(port: gateway.proxyPort, "/sim/dokstamp/certificates").status == 200)
                #expect(try await opsRequest(port: gateway.proxyPort, "/nothing").status == 404)
            }
            #expect(lines.all.count == 1)
        }
    }
}
