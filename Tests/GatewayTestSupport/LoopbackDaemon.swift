import Foundation

/// A server program a test runs on a loopback port it cannot ask the kernel for: tinyproxy, microsocks and nginx take
/// their port from a config file or an argument, so the port is one that was free a moment ago, and another process
/// (another test's daemon) may take it first. The daemon is started
/// with up to five ports until it listens. Readiness is polled until a deadline, never slept for, and is the daemon's
/// own: the process holds a listening socket on the port (`/proc/net/tcp` and its `/proc/PID/fd`). A connect that
/// succeeds would not do: on a port taken by another test's daemon it succeeds too, while ours fails to bind.
public final class LoopbackDaemon: @unchecked Sendable {
    // @unchecked: `process` is only touched by the one test that owns the daemon.
    public let port: Int
    /// A private directory with the config, logs and whatever the caller wrote there.
    public let directory: String
    private let process: SpawnedProcess

    private init(port: Int, directory: String, process: SpawnedProcess) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    /// A failed start: the daemon never listened on any of the ports tried.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `executable` with the arguments `arguments(port, directory)` returns, after `prepare(port, directory)`
    /// wrote its config; retries with a new port when the process exits before it listens on its port.
    public static func start(
        name: String, executable: String, prepare: (Int, String) throws -> Void = { _, _ in },
        arguments: (Int, String) -> [String], timeout: Duration = .seconds(30)
    ) async throws -> LoopbackDaemon {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var lastOutput = ""
        for _ in 0..<5 {
            // Bound without SO_REUSEADDR (unlike `freeLoopbackPort()`, whose NIO socket sets it): the kernel then
            // skips ports with connections in TIME_WAIT, which a daemon that does not set SO_REUSEADDR itself
            // (tinyproxy) cannot bind; other tests' stub servers leave many of those behind.
            let port = try RefusingPort().port
            try prepare(port, directory)
            let output = "\(directory)/stdout.log"
            let process = try SpawnedProcess(executable, arguments(port, directory), outputPath: output)
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline, process.ending() == nil {
                if Self.process(process.pid, listensOn: port) {
                    return LoopbackDaemon(port: port, directory: directory, process: process)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let ending = await process.terminate(grace: .seconds(2))
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            lastOutput += "port \(port), \(ending): \(text.suffix(400))\n"
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw StartError(description: "\(name) did not start: \(lastOutput.suffix(2000))")
    }

    /// Whether process `pid` holds a socket listening on 127.0.0.1:`port`: the inode of that listening socket in
    /// `/proc/net/tcp` is one of the process's descriptors.
    static func process(_ pid: pid_t, listensOn port: Int) -> Bool {
        let local = "0100007F" + TCPSockets.portSuffix(port)
        let listening = TCPSockets.table().filter { $0.isListening && $0.local == local }
        guard !listening.isEmpty else { return false }
        let owned = TCPSockets.inodes(ofProcess: String(pid))
        return listening.contains { owned.contains($0.inode) }
    }

    /// The text of a file in the daemon's directory ("" when absent).
    public func read(_ file: String) -> String {
        (try? String(contentsOfFile: "\(self.directory)/\(file)", encoding: .utf8)) ?? ""
    }

    /// Runs `body` with the daemon, then stops it, whether `body` returned or threw.
    public func run<T: Sendable>(_ body: (LoopbackDaemon) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await self.stop()
            return result
        } catch {
            await self.stop()
            throw error
        }
    }

    /// Ends the daemon (SIGTERM, then SIGKILL) and removes its directory.
    public func stop() async {
        await self.process.terminate(grace: .seconds(5))
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}

/// A real forward proxy on loopback: tinyproxy, tunnelling `CONNECT` to any port, optionally asking for Basic
/// credentials (then a request without them gets 407).
public enum ForwardProxy {
    public static func start(basicAuth: (user: String, password: String)? = nil) async throws -> LoopbackDaemon {
        try await LoopbackDaemon.start(
            name: "tinyproxy", executable: "/usr/bin/tinyproxy",
            prepare: { port, directory in
                var config = """
                    Port \(port)
                    Listen 127.0.0.1
                    Timeout 60
                    MaxClients 100
                    LogLevel Connect
                    LogFile "\(directory)/tinyproxy.log"

                    """
                if let basicAuth { config += "BasicAuth \(basicAuth.user) \(basicAuth.password)\n" }
                try config.write(toFile: "\(directory)/tinyproxy.conf", atomically: true, encoding: .utf8)
            },
            arguments: { _, directory in ["-d", "-c", "\(directory)/tinyproxy.conf"] })
    }
}

/// A real SOCKS5 proxy on loopback: microsocks, optionally asking for a user name and password.
public enum SocksProxy {
    public static func start(credentials: (user: String, password: String)? = nil) async throws -> LoopbackDaemon {
        try await LoopbackDaemon.start(
            name: "microsocks", executable: "/usr/bin/microsocks",
            arguments: { port, _ in
                ["-i", "127.0.0.1", "-p", String(port)]
                    + (credentials.map { ["-u", $0.user, "-P", $0.password] } ?? [])
            })
    }
}

/// nginx on loopback over TLS with HTTP/2 (ALPN), with the test PKI's server certificate, or (`tls: false`) over
/// plain TCP with HTTP/2 by prior knowledge only, or (`http2: false`) over TLS with HTTP/1.1 only. Each request is
/// logged as
/// `<protocol> <connection serial> <status> <uri> <traceparent>` in `access.log` (``accessLog(of:)``).
///
/// Locations: `/hello` (a 6-byte text), `/big` (a 2 MiB file, for streaming), and with `backendPort`,
/// `/backend/…` proxied to that HTTP/1.1 server without buffering (for slow heads, holds and cancellations).
public enum HTTP2Nginx {
    public static let bigBodySize = 2 * 1024 * 1024

    public static func start(
        pki: TestPKI, backendPort: Int? = nil, tls: Bool = true, http2: Bool = true
    ) async throws -> LoopbackDaemon {
        let user = getuid() == 0 ? "user root root;" : ""
        return try await LoopbackDaemon.start(
            name: "nginx-h2", executable: "/usr/sbin/nginx",
            prepare: { port, directory in
                try FileManager.default.createDirectory(atPath: "\(directory)/tmp", withIntermediateDirectories: true)
                let big = Data(Self.bigBody())
                try big.write(to: URL(fileURLWithPath: "\(directory)/big.bin"))
                let backend =
                    backendPort.map { backendPort in
                        """
                                location /backend/ {
                                    proxy_pass http://127.0.0.1:\(backendPort)/;
                                    proxy_buffering off;
                                    proxy_read_timeout 60s;
                                }
                        """
                    } ?? ""
                let config = """
                    \(user)
                    daemon off;
                    master_process on;
                    worker_processes 1;
                    pid \(directory)/nginx.pid;
                    error_log \(directory)/error.log warn;
                    events { worker_connections 512; }
                    http {
                        log_format h2 '$server_protocol $connection $status $request_uri "$http_traceparent"';
                        access_log \(directory)/access.log h2;
                        client_body_temp_path \(directory)/tmp/body;
                        proxy_temp_path \(directory)/tmp/proxy;
                        fastcgi_temp_path \(directory)/tmp/fastcgi;
                        uwsgi_temp_path \(directory)/tmp/uwsgi;
                        scgi_temp_path \(directory)/tmp/scgi;
                        server {
                            listen 127.0.0.1:\(port)\(tls ? " ssl" : "")\(http2 ? " http2" : "");
                            ssl_certificate \(pki.serverCertificate);
                            ssl_certificate_key \(pki.serverKey);
                            location /hello { default_type text/plain; return 200 "hello\\n"; }
                            location /big { default_type application/octet-stream; alias \(directory)/big.bin; }
                    \(backend)
                        }
                    }

                    """
                try config.write(toFile: "\(directory)/nginx.conf", atomically: true, encoding: .utf8)
            },
            arguments: { _, directory in
                ["-p", directory, "-c", "\(directory)/nginx.conf", "-e", "\(directory)/error.log"]
            })
    }

    /// The bytes of `/big`: not a repeating pattern of any short period, so a lost or repeated chunk shows.
    public static func bigBody() -> [UInt8] {
        (0..<Self.bigBodySize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
    }

    /// One request as nginx logged it.
    public struct LogLine: Sendable, Equatable {
        public var serverProtocol: String
        public var connection: Int
        public var status: Int
        public var uri: String
        public var traceparent: String
    }

    /// The requests nginx logged so far.
    public static func accessLog(of nginx: LoopbackDaemon) -> [LogLine] {
        nginx.read("access.log").split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 4)
            guard parts.count == 5, let connection = Int(parts[1]), let status = Int(parts[2]) else { return nil }
            return LogLine(
                serverProtocol: String(parts[0]), connection: connection, status: status, uri: String(parts[3]),
                traceparent: String(parts[4].dropFirst().dropLast()))
        }
    }
}
