import Foundation

/// Runs the measured part of a test alone, in a child process of the test binary that runs only that test.
///
/// For the tests that compare readings of the process-wide resident size: every other test running beside them in
/// the suite's process would move the figure. The child is started with ``SpawnedProcess`` (no descriptor of this
/// process inherited, so no other test's socket is held open by it) and waited for without holding a thread: Swift
/// Testing's own exit tests block a thread of the cooperative pool while their child runs, and with two cores two of
/// them stopped the whole suite for the child's lifetime.
///
/// The test calls ``run(_:timeout:_:)`` with a filter naming itself. In the suite's process that starts the child
/// (the test binary with `--filter` and an environment variable) and returns how it went; in the child, where only
/// that test runs, it runs `body`, whose expectations are the child's own.
public enum IsolatedTest {
    /// The environment variable that tells a child which test it runs alone.
    static let variable = "GATEWAY_ISOLATED_TEST"

    /// How the child went.
    public struct Outcome: Sendable {
        /// Whether it ran `body` and every expectation held (its exit status was 0).
        public var passed: Bool
        /// The end of its output, to show when it failed.
        public var report: String
    }

    /// Runs `body` alone in a child process of the test binary.
    /// - Parameters:
    ///   - filter: a `--filter` that selects exactly the calling test (`SuiteName/testFunctionName`).
    ///   - timeout: how long the child may run before it is ended and counted as failed.
    ///   - body: the measured part; runs only in the child.
    /// - Returns: in the suite's process, how the child went; in the child, `passed` once `body` returned.
    public static func run(
        _ filter: String, timeout: Duration = .seconds(600), _ body: () async throws -> Void
    ) async throws -> Outcome {
        if ProcessInfo.processInfo.environment[Self.variable] == filter {
            try await body()
            return Outcome(passed: true, report: "")
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("isolated-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: output) }
        let child = try SpawnedProcess(
            CommandLine.arguments[0], ["--testing-library", "swift-testing", "--filter", filter],
            outputPath: output.path, environment: [Self.variable: filter])
        var ending = await child.exit(within: timeout)
        if ending == nil { ending = await child.terminate(grace: .seconds(2)) }
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        // A filter that matched nothing would pass vacuously: the child must have run exactly one test.
        let ranOne = text.contains("Test run with 1 test")
        return Outcome(
            passed: ending == .exited(0) && ranOne,
            report: "\(filter) in a child process: \(ending.map { "\($0)" } ?? "?"), output:\n\(text.suffix(3000))")
    }
}
