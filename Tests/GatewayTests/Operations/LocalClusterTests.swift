import Foundation
import GatewayTestSupport
import Testing

/// `deploy/local-cluster.sh`: two gateways behind nginx sharing one Redis hold one global limit.
@Suite("Local cluster", .serialized)
struct LocalClusterTests {
    static func runScript(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        // `timeout` is a hard stop, should anything in the script hang.
        try await ChildProcess.run(
            "/usr/bin/timeout",
            ["-s", "KILL", "180", opsPackageRoot.appendingPathComponent("deploy/local-cluster.sh").path] + arguments,
            currentDirectory: opsPackageRoot)
    }

    @Test("a global limit holds across two instances behind nginx")
    func limitHoldsAcrossInstances() async throws {
        let (check, checkOutput) = try await Self.runScript(["--check"])
        #expect(check == 0, "the Redis store must be wired: \(checkOutput)")
        let (status, output) = try await Self.runScript([])
        #expect(status == 0, "\(output)")
        #expect(output.contains("OK: the limit held across both instances"), "\(output)")
    }
}
