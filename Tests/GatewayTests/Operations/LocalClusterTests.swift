import Foundation
import Testing

/// `deploy/local-cluster.sh`: two gateways behind nginx sharing one Redis hold one global limit.
///
/// Enabled only when the build shares limits through Redis (`--check` exits 77 until the Redis store is wired).
@Suite("Local cluster", .serialized)
struct LocalClusterTests {
    static func runScript(_ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        // A hard stop, should anything in the script hang.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-s", "KILL", "180", opsPackageRoot.appendingPathComponent("deploy/local-cluster.sh").path]
            + arguments
        process.currentDirectoryURL = opsPackageRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            return (-1, "\(error)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let redisStoreWired: Bool = {
        let (status, output) = Self.runScript(["--check"])
        if status != 0 && status != 77 { print("local-cluster.sh --check failed (\(status)): \(output)") }
        return status == 0
    }()

    @Test(
        "a global limit holds across two instances behind nginx",
        .enabled(if: LocalClusterTests.redisStoreWired, "the Redis rate-limit store is not wired in this build"))
    func limitHoldsAcrossInstances() {
        let (status, output) = Self.runScript([])
        #expect(status == 0, "\(output)")
        #expect(output.contains("OK: the limit held across both instances"), "\(output)")
    }
}
