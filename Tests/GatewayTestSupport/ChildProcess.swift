public import Foundation

/// Runs a program (a ``SpawnedProcess``) to completion without blocking a Swift concurrency thread: waiting in
/// `waitpid` or reading a pipe to its end would hold one of the (two, here) cooperative threads for the whole run and
/// starve every other test in the process.
public enum ChildProcess {
    /// Exit status (``SpawnedProcess/Ending/status``) and combined output of `executable arguments`, killed after
    /// `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], currentDirectory: URL? = nil, timeout: Duration = .seconds(180)
    ) async throws -> (status: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log")
            .path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let process = try SpawnedProcess(
            executable, arguments, outputPath: outputPath, currentDirectory: currentDirectory?.path)
        let ending = await process.exit(within: timeout) ?? process.killNow()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (ending.status, text)
    }
}
