import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A private `redis-server` on a loopback port (never the system one) for the Redis store's tests and the gateway's
/// end-to-end ones: started, killed as a crash would, frozen, and restarted on the same port by the test that owns it.
///
/// redis-server takes its port as an argument, so the port is one that was free a moment ago, and another test's
/// daemon may take it first. A server that exits before it listens is therefore started again on a new port (five
/// tries), and readiness is the server's own listening socket (as for ``LoopbackDaemon``), never a connect that some
/// other process on the port could answer.
public final class RedisTestServer: @unchecked Sendable {
    // @unchecked: `process` is only touched by the one test that owns the server, never concurrently.
    public let port: Int
    public let password: String?
    private let extraArguments: [String]
    private var process: SpawnedProcess?

    /// A server that did not start: it never listened on any of the ports tried.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts a server without persistence on a free port and waits until it listens.
    /// - Parameters:
    ///   - password: `requirepass`, if any.
    ///   - extraArguments: more `redis-server` arguments (`--user …` for ACLs).
    public init(password: String? = nil, extraArguments: [String] = []) async throws {
        var failures: [String] = []
        for _ in 0..<5 {
            let port = try RefusingPort().port
            switch await Self.launch(port: port, password: password, extraArguments: extraArguments) {
            case .success(let process):
                self.port = port
                self.password = password
                self.extraArguments = extraArguments
                self.process = process
                return
            case .failure(let failure):
                failures.append("port \(port): \(failure)")
            }
        }
        throw StartError(description: "redis-server did not start: \(failures.joined(separator: "; "))")
    }

    /// `redis://…` for the gateway's config.
    public var url: String {
        if let password { return "redis://:\(password)@127.0.0.1:\(self.port)/0" }
        return "redis://127.0.0.1:\(self.port)/0"
    }

    /// Starts the server again on its port after ``kill()``, retrying for a while if something else holds the port.
    public func start() async throws {
        var failures: [String] = []
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            switch await Self.launch(port: self.port, password: self.password, extraArguments: self.extraArguments) {
            case .success(let process):
                self.process = process
                return
            case .failure(let failure):
                failures.append(failure.description)
            }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        throw StartError(description: "redis-server did not restart on \(self.port): \(failures.suffix(3))")
    }

    /// Kills the server at once (SIGKILL), as a crash would, and reaps it.
    public func kill() {
        self.process?.killNow()
        self.process = nil
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: its sockets stay open but nothing answers.
    public func signal(_ number: Int32) {
        self.process?.send(number)
    }

    /// Sends one inline command (authenticating first when the server has a password) and returns the raw reply's
    /// last line (`+OK`, `:1`, …).
    public func command(_ line: String) async throws -> String {
        var payload = ""
        if let password { payload += "AUTH \(password)\r\n" }
        payload += line + "\r\n"
        let expectedReplies = self.password == nil ? 1 : 2
        let client = try await RawHTTPClient.connect(port: self.port)
        do {
            try await client.send(payload)
            var replies: [Substring] = []
            let answered = try await eventually(within: .seconds(5), pollingEvery: .milliseconds(2)) {
                let text = String(decoding: try await client.receivedBytes(), as: UTF8.self)
                replies = text.split(separator: "\r\n")
                return replies.count >= expectedReplies
            }
            await client.close()
            guard answered else { throw StartError(description: "redis-server did not answer \(line)") }
            return String(replies[expectedReplies - 1])
        } catch {
            await client.close()
            throw error
        }
    }

    /// Spawns `redis-server` on `port` and waits until it listens there; the failure says how it ended otherwise.
    private static func launch(
        port: Int, password: String?, extraArguments: [String]
    ) async -> Result<SpawnedProcess, StartError> {
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--loglevel", "warning",
        ]
        if let password { arguments += ["--requirepass", password] }
        arguments += extraArguments
        // Its log, kept only to explain a failed start.
        let logPath = FileManager.default.temporaryDirectory.path + "/redis-\(port)-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let process: SpawnedProcess
        do {
            process = try SpawnedProcess("/usr/bin/redis-server", arguments, outputPath: logPath)
        } catch {
            return .failure(StartError(description: "\(error)"))
        }
        // Until it listens or exits (its port taken): no use waiting out the deadline for a server that is gone.
        let started = ContinuousClock.now
        var polls = 0
        _ = await eventually(within: .seconds(10), pollingEvery: .milliseconds(20)) {
            polls += 1
            return process.ending() != nil || LoopbackDaemon.process(process.pid, listensOn: port)
        }
        if process.ending() == nil, LoopbackDaemon.process(process.pid, listensOn: port) { return .success(process) }
        let waited = ContinuousClock.now - started
        let ending = process.killNow()
        let log = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(400)
        let description = "\(ending) after \(waited), \(polls) checks; log: \(log.debugDescription)"
        return .failure(StartError(description: description))
    }
}
