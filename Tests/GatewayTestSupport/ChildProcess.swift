public import Foundation

/// Runs a program to completion without blocking a Swift concurrency thread: `Process.waitUntilExit()` and
/// `readDataToEndOfFile()` would hold one of the (two, here) cooperative threads for the whole run and starve every
/// other test in the process.
public enum ChildProcess {
    /// Exit status and combined output of `executable arguments`, killed after `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], currentDirectory: URL? = nil, timeout: Duration = .seconds(180)
    ) async throws -> (status: Int32, output: String) {
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = currentDirectory
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // It has exited: this returns at once.
        process.waitUntilExit()
        let text = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        return (process.terminationStatus, text)
    }
}
