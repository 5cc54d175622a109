import Foundation
import GatewayTestSupport
import NIOCore
import NIOPosix
import Testing
import VendorSimulator

/// A file with one problem on line 3 (an unknown key).
private let minimalBadConfig = """
    upstreams:
      sim:
        colour: blue
        url: http://127.0.0.1:9
    routes:
      - path_prefix: /api/
        upstream: sim
    """

/// The built `gateway` executable as a subprocess (SPEC section 1).
@Suite struct CommandLineTests {
    /// `.build/<triple>/debug/gateway`, next to the test bundle (this process's executable).
    static var executable: URL {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent("gateway")
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// A started subprocess whose output goes to temporary files (no pipe can fill up and block it).
    final class Child: Sendable {
        let process: SpawnedProcess
        let stdoutPath: String
        let stderrPath: String

        /// Starts `gateway arguments`, reading standard input from `inputPath`.
        init(_ arguments: [String], environment: [String: String] = [:], inputPath: String = "/dev/null") throws {
            let executable = CommandLineTests.executable
            try #require(
                FileManager.default.isExecutableFile(atPath: executable.path),
                "build the gateway executable first (swift build): \(executable.path) is missing")
            let directory = FileManager.default.temporaryDirectory
            self.stdoutPath = directory.appendingPathComponent("gateway-cli-\(UUID().uuidString).out").path
            self.stderrPath = directory.appendingPathComponent("gateway-cli-\(UUID().uuidString).err").path
            self.process = try SpawnedProcess(
                executable.path, arguments, outputPath: self.stdoutPath, errorPath: self.stderrPath,
                inputPath: inputPath, environment: environment)
        }

        /// Sends `signal` to the child.
        func send(_ signal: Int32) { self.process.send(signal) }

        /// Waits (polling, never blocking a thread) for the exit, killing the child past `timeout`.
        func finish(timeout: Duration = .seconds(20)) async throws -> Run {
            var ending = await self.process.exit(within: timeout)
            if ending == nil {
                ending = self.process.killNow()
                Issue.record("the gateway process did not exit within \(timeout)")
            }
            defer {
                try? FileManager.default.removeItem(atPath: self.stdoutPath)
                try? FileManager.default.removeItem(atPath: self.stderrPath)
            }
            return Run(
                status: ending?.status ?? -1,
                stdout: (try? String(contentsOfFile: self.stdoutPath, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: self.stderrPath, encoding: .utf8)) ?? "")
        }
    }

    static func run(_ arguments: [String]) async throws -> Run {
        try await Child(arguments).finish()
    }

    @Test func version() async throws {
        let run = try await Self.run(["version"])
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("gateway "))
        #expect(run.stdout.split(separator: "\n").count == 1)
    }

    @Test func dialects() async throws {
        let run = try await Self.run(["dialects"])
        #expect(run.status == 0)
        let lines = run.stdout.split(separator: "\n")
        let names = Set(lines.compactMap { $0.split(separator: " ").first.map(String.init) })
        for name in [
            "problem_json", "nested_error", "laravel", "nestjs", "field_map", "oauth2", "jsonapi", "graphql", "google",
            "xml", "text", "dokstamp", "certifier", "docyard", "dokai", "stemp",
        ] {
            #expect(names.contains(name), "`gateway dialects` does not list \(name)")
        }
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1)
            #expect(
                parts.count == 2 && !parts[1].trimmingCharacters(in: .whitespaces).isEmpty, "no description: \(line)")
        }
    }

    @Test func checkConfig() async throws {
        let good = try writeTemporaryConfig(simpleConfig(url: "http://127.0.0.1:9"))
        defer { removeTemporaryConfig(good) }
        let ok = try await Self.run(["check-config", "--config", good])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")

        let bad = try writeTemporaryConfig(
            """
            server:
              max_body_bytes: lots
            upstreams:
              sim:
                url: http://127.0.0.1:9
                colour: blue
            routes:
              - path_prefix: /api/
                upstream: nowhere
            """)
        defer { removeTemporaryConfig(bad) }
        let failed = try await Self.run(["check-config", "--config", bad])
        #expect(failed.status == 1)
        let lines = failed.stdout.split(separator: "\n")
        #expect(lines.count >= 3, "expected every problem: \(failed.stdout)")
        for line in lines {
            #expect(
                line.hasPrefix(bad + ":") && line.wholeMatch(of: /.+:\d+:\d+: .+/) != nil,
                "not PATH:LINE:COLUMN: message: \(line)")
        }
        #expect(lines.contains { $0.hasPrefix("\(bad):2:") })
        #expect(lines.contains { $0.hasPrefix("\(bad):6:") && $0.contains("colour") })
        #expect(lines.contains { $0.hasPrefix("\(bad):9:") && $0.contains("nowhere") })

        let missing = try await Self.run(["check-config", "--config", "/nonexistent/gateway.yaml"])
        #expect(missing.status != 0)
    }

    @Test func checkConfigTakesThePathAsAnArgumentToo() async throws {
        let good = try writeTemporaryConfig(simpleConfig(url: "http://127.0.0.1:9"))
        let bad = try writeTemporaryConfig(minimalBadConfig)
        defer { for path in [good, bad] { removeTemporaryConfig(path) } }
        let ok = try await Self.run(["check-config", good])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout == "\(good): OK\n")

        let failed = try await Self.run(["check-config", bad])
        #expect(failed.status == 1)
        #expect(failed.stdout.hasPrefix("\(bad):3:"), "\(failed.stdout)")
        #expect(failed.stdout.contains("colour"))

        // The same path both ways is fine; two different paths are refused before anything is read.
        #expect(try await Self.run(["check-config", good, "--config", good]).status == 0)
        let both = try await Self.run(["check-config", good, "--config", bad])
        #expect(both.status != 0 && both.status != 1, "\(both.status)")
        #expect(both.stderr.contains("not both"), "\(both.stderr)")
    }

    @Test func noSubcommandPrintsTheHelpAndFails() async throws {
        let run = try await Self.run([])
        #expect(run.status == 64, "status \(run.status)")
        #expect(run.stdout.isEmpty)
        for subcommand in ["serve", "check-config", "dialects", "explain", "version"] {
            #expect(run.stderr.contains(subcommand), "the help does not list \(subcommand): \(run.stderr)")
        }
        #expect(run.stderr.contains("USAGE"))
        // Asked for, the help is not an error.
        #expect(try await Self.run(["--help"]).status == 0)
    }

    @Test func serveHelpNamesSignalsExitCodesAndTheLogLevelVariable() async throws {
        let run = try await Self.run(["serve", "--help"])
        #expect(run.status == 0)
        // The help is wrapped to the terminal width: compare with runs of whitespace made single spaces.
        let text = run.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for phrase in [
            "SIGHUP re-reads the config file", "SIGTERM or SIGINT drains", "server.drain_timeout",
            "0 drained and stopped", "1 the config is invalid", "3 drain_timeout ran out", "GATEWAY_LOG_LEVEL",
        ] {
            #expect(text.contains(phrase), "`gateway serve --help` does not say \"\(phrase)\": \(run.stdout)")
        }
    }

    @Test func serveAnswersAndExitsZeroOnSIGTERM() async throws {
        try await withSimulator { sim in
            // Free ports are found by binding port 0 and closing; another test may grab one meanwhile, so a start
            // that fails to bind is tried again with new ports.
            var started: (child: Child, proxyPort: Int, adminPort: Int, config: String)?
            for _ in 0..<3 where started == nil {
                let proxyPort = try await freeLoopbackPort()
                let adminPort = try await freeLoopbackPort()
                let config = try writeTemporaryConfig(
                    simpleConfig(
                        url: "http://127.0.0.1:\(sim.port)",
                        top: """
                            server:
                              listen: 127.0.0.1:\(proxyPort)
                              admin_listen: 127.0.0.1:\(adminPort)
                              drain_timeout: 2s
                            """))
                let child = try Child(["serve", "--config", config], environment: ["GATEWAY_LOG_LEVEL": "warning"])
                let ready = await eventually(within: .seconds(15)) {
                    guard child.process.isRunning else { return true }
                    let response = try? await withClient(port: adminPort) { client in
                        try await client.send("GET /readyz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                        return try await client.readResponse(timeout: .seconds(1))
                    }
                    return response?.status == 200
                }
                if ready, child.process.isRunning {
                    started = (child, proxyPort, adminPort, config)
                } else {
                    defer { removeTemporaryConfig(config) }
                    child.process.killNow()
                    let run = try await child.finish()
                    let output = run.stdout + run.stderr
                    if !output.lowercased().contains("address already in use") {
                        Issue.record("the gateway never became ready: status \(run.status), output: \(output)")
                        return
                    }
                }
            }
            let (child, proxyPort, adminPort, config) = try #require(started)
            defer { removeTemporaryConfig(config) }
            let response = try await withClient(port: proxyPort) { client in
                try await client.send(RunningGateway.requestBytes("GET", "/api/dokstamp/certificates"))
                return try await client.readResponse()
            }
            #expect(response.status == 200)

            // The process allocates with jemalloc, which Package.swift links in (bench/RESULTS.md: glibc's malloc
            // cost about 4 % more CPU per request).
            let maps = FileHandle(forReadingAtPath: "/proc/\(child.process.pid)/maps")?.readDataToEndOfFile()
            #expect(String(decoding: maps ?? Data(), as: UTF8.self).contains("libjemalloc.so"))

            // SIGHUP reloads the file: a new route appears, and a keep-alive connection survives.
            let held = try await RawHTTPClient.connect(port: proxyPort)
            try await held.send(RunningGateway.requestBytes("GET", "/api/dokstamp/certificates"))
            #expect(try await held.readResponse().status == 200)
            let reloaded = simpleConfig(
                url: "http://127.0.0.1:\(sim.port)",
                route: """
                      - path_prefix: /v2/
                        strip_prefix: true
                        upstream: sim
                    """,
                top: """
                    server:
                      listen: 127.0.0.1:\(proxyPort)
                      admin_listen: 127.0.0.1:\(adminPort)
                      drain_timeout: 2s
                    """)
            try reloaded.write(toFile: config, atomically: true, encoding: .utf8)
            child.send(SIGHUP)
            let swapped = await eventually {
                let status = try? await withClient(port: proxyPort) { client in
                    try await client.send(RunningGateway.requestBytes("GET", "/v2/dokstamp/certificates"))
                    return try await client.readResponse().status
                }
                return status == 200
            }
            #expect(swapped, "SIGHUP did not reload the config")
            #expect(child.process.isRunning)
            try await held.send(RunningGateway.requestBytes("GET", "/v2/dokstamp/certificates"))
            #expect(try await held.readResponse().status == 200)
            await held.close()

            // SIGTERM with a request in flight: it finishes, then the process exits 0.
            let before = sim.requestCount(path: "/dokstamp/certificates")
            let inFlight = try await RawHTTPClient.connect(port: proxyPort)
            try await inFlight.send(RunningGateway.requestBytes("GET", "/api/dokstamp/certificates?delay=1200ms"))
            #expect(await eventually { sim.requestCount(path: "/dokstamp/certificates") == before + 1 })
            child.send(SIGTERM)
            // While draining, /readyz says 503 (load balancers stop sending), and the request in flight finishes.
            let notReady = await eventually(within: .seconds(1)) {
                let status = try? await withClient(port: adminPort) { client in
                    try await client.send("GET /readyz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    return try await client.readResponse(timeout: .milliseconds(500)).status
                }
                return status == 503
            }
            #expect(notReady, "/readyz did not turn 503 while draining")
            let drained = try await inFlight.readResponse(timeout: .seconds(5))
            #expect(drained.status == 200)
            await inFlight.close()
            let run = try await child.finish(timeout: .seconds(10))
            #expect(run.status == 0, "stderr: \(run.stderr)")
            #expect(child.process.ending() == .exited(0))
        }
    }

    @Test func serveWithBadConfigPrintsProblemsAndExitsBeforeBinding() async throws {
        // Hold the configured port: a gateway that bound before validating would fail with a bind error instead.
        let holder = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = holder.localAddress?.port ?? 0
        let config = try writeTemporaryConfig(
            """
            server:
              listen: 127.0.0.1:\(port)
              admin_listen: 127.0.0.1:\(port)
            upstreams:
              sim:
                url: http://127.0.0.1:9
            routes:
              - path_prefix: /api/
                upstream: sim
                rate_limits: [undefined_policy]
            """)
        defer { removeTemporaryConfig(config) }
        let run = try await Child(["serve", "--config", config]).finish(timeout: .seconds(10))
        try? await holder.close()
        #expect(run.status != 0)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("\(config):10:") && $0.contains("undefined_policy") }, "\(run.stdout)")
        #expect(!run.stderr.lowercased().contains("address already in use"))
        #expect(!run.stdout.lowercased().contains("address already in use"))
    }
}
