import Foundation
import GatewayTestSupport
import NIOConcurrencyHelpers
import Testing
import VendorSimulator

@testable import Gateway

/// `POST /reload` (and SIGHUP, in ``DrainTests``): good configs swap in atomically, bad ones change nothing.
@Suite("Hot reload")
struct ReloadTests {
    @Test("five good reloads and a bad one under load: every request succeeds")
    func reloadsUnderLoad() async throws {
        let simulator = try await VendorSimulator.start()
        let configA = opsConfig(simulatorPort: simulator.port)
        let configB = opsConfig(
            simulatorPort: simulator.port,
            extraRoutes: """
                - name: extra
                  path_prefix: /extra/
                  strip_prefix: true
                  upstream: sim
                """)
        try await withOpsGateway(yaml: configA, stopping: simulator) { gateway in
            let statuses = NIOLockedValueBox<[Int]>([])
            let stop = NIOLockedValueBox(false)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        while !stop.withLockedValue({ $0 }) {
                            let response = try await opsRequest(port: gateway.proxyPort, "/sim/dokstamp/certificates")
                            statuses.withLockedValue { $0.append(response.status) }
                        }
                    }
                }
                for index in 0..<5 {
                    try gateway.writeConfig(index % 2 == 0 ? configB : configA)
                    let response = try await opsRequest(port: gateway.adminPort, "POST", "/reload")
                    #expect(response.status == 200, "\(response)")
                    // The new route table is in force at once.
                    let extra = try await opsRequest(port: gateway.proxyPort, "/extra/dokstamp/certificates")
                    #expect(extra.status == (index % 2 == 0 ? 200 : 404))
                    try await Task.sleep(for: .milliseconds(50))
                }
                // A bad file: rejected with its file:line problems, counted, the old config stays.
                try gateway.writeConfig(
                    configA.replacingOccurrences(of: "drain_timeout: 5s", with: "drain_timeout: 5s\n  bogus_key: 1"))
                let rejected = try await opsRequest(port: gateway.adminPort, "POST", "/reload")
                #expect(rejected.status == 422)
                #expect(rejected.bodyText.contains("\(gateway.configPath):5:"), "\(rejected.bodyText)")
                #expect(rejected.bodyText.contains("bogus_key"))
                try await Task.sleep(for: .milliseconds(100))
                stop.withLockedValue { $0 = true }
                try await group.waitForAll()
            }
            let seen = statuses.withLockedValue { $0 }
            #expect(seen.count > 10)
            #expect(seen.allSatisfy { $0 == 200 }, "\(Set(seen))")
            // The last good config (B, with /extra/) is still in force after the bad one.
            #expect(try await opsRequest(port: gateway.proxyPort, "/extra/dokstamp/certificates").status == 200)

            let samples = try await opsScrape(adminPort: gateway.adminPort)
            // The five reloads, not the start-up load.
            #expect(samples.value("gateway_config_reloads_total", ["result": "success"]) == 5)
            #expect(samples.value("gateway_config_reloads_total", ["result": "failure"]) == 1)
        }
    }

    @Test("a request in flight finishes with the config it started with")
    func inFlightKeepsItsConfig() async throws {
        let simulator = try await VendorSimulator.start()
        try await withOpsGateway(yaml: opsConfig(simulatorPort: simulator.port), stopping: simulator) { gateway in
            let client = try await RawHTTPClient.connect(port: gateway.proxyPort)
            try await client.send("GET /sim/dokstamp/certificates?delay=800ms HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await eventually(within: .seconds(10)) { simulator.requestCount() == 1 })
            // The new config routes /sim/ nowhere (its upstream is unreachable) and has another route name.
            let moved = opsConfig(simulatorPort: 1)
                .replacingOccurrences(of: "path_prefix: /sim/", with: "path_prefix: /moved/")
            try gateway.writeConfig(moved)
            #expect(try await opsRequest(port: gateway.adminPort, "POST", "/reload").status == 200)
            #expect(try await opsRequest(port: gateway.proxyPort, "/sim/dokstamp/certificates").status == 404)
            let response = try await client.readResponse()
            #expect(response.status == 200)
            await client.close()
        }
    }
}
