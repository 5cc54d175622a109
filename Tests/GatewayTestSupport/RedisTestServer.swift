import Foundation
import NIOCore
import NIOPosix

/// A private `redis-server` on a free loopback port for end-to-end tests (never the system one): started, killed
/// and restarted on the same port by the test.
public final class RedisTestServer: @unchecked Sendable {
    // @unchecked: `process` is only touched by the one test that owns the server, never concurrently.
    public let port: Int
    private let password: String?
    private var process: Process?

    public init(password: String? = nil) async throws {
        self.port = try Self.freePort()
        self.password = password
        try await self.start()
    }

    /// `redis://…` for the gateway's config.
    public var url: String {
        if let password { return "redis://:\(password)@127.0.0.1:\(self.port)/0" }
        return "redis://127.0.0.1:\(self.port)/0"
    }

    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        var arguments = [
            "--port", String(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--loglevel", "warning",
        ]
        if let password { arguments += ["--requirepass", password] }
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? await self.command("PING")).map({ $0.hasPrefix("+PONG") || $0.hasPrefix("-NOAUTH") }) == true {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CocoaError(.executableLoad)
    }

    /// Kills the server at once, as a crash would.
    public func kill() async {
        guard let process = self.process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(5)) }
        self.process = nil
    }

    deinit {
        if let process = self.process { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Sends one inline command (authenticating first when the server has a password) and returns the raw reply.
    public func command(_ line: String) async throws -> String {
        let client = try await RawHTTPClient.connect(port: self.port)
        do {
            let reply = try await self.exchange(line, on: client)
            await client.close()
            return reply
        } catch {
            await client.close()
            throw error
        }
    }

    private func exchange(_ line: String, on client: RawHTTPClient) async throws -> String {
        var payload = ""
        if let password { payload += "AUTH \(password)\r\n" }
        payload += line + "\r\n"
        try await client.send(payload)
        let expectedReplies = self.password == nil ? 1 : 2
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            let text = String(decoding: try await client.receivedBytes(), as: UTF8.self)
            let replies = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            if replies.count >= expectedReplies { return replies[expectedReplies - 1] }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw CocoaError(.fileReadUnknown)
    }

    private static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        return channel.localAddress?.port ?? 0
    }
}
