import ArgumentParser
import Gateway
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The `gateway` executable (SPEC section 1).
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "An error-normalizing API gateway: one error format, one rate-limit contract, one retry policy.",
        version: GatewayVersion.current,
        subcommands: [Serve.self, CheckConfig.self, Dialects.self, Explain.self, Version.self])

    /// Without a subcommand there is nothing to do: the help goes to standard error and the exit status is 64
    /// (EX_USAGE), so a script that forgot the subcommand fails instead of silently succeeding.
    func run() async throws {
        printError(Self.helpMessage())
        throw ExitCode.validationFailure
    }
}

/// The version string printed by `gateway version`.
enum GatewayVersion {
    static let current = "0.1.0"
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The YAML config file.")
    var config = "config/gateway.yaml"
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway.",
        discussion: """
            Signals: SIGHUP re-reads the config file (as POST /reload on the admin listener does); an invalid file \
            is logged with its problems and the running config stays. SIGTERM or SIGINT drains: /readyz turns 503, \
            the listener stops accepting, in-flight requests get server.drain_timeout to finish.

            Exit codes: 0 drained and stopped; 1 the config is invalid (its problems are printed as \
            PATH:LINE:COLUMN: message, nothing is bound) or the gateway could not start; 3 drain_timeout ran out \
            and connections were cut.

            Environment: GATEWAY_LOG_LEVEL sets the log level on standard error (trace, debug, info, notice, \
            warning, error; default info). ${NAME} in the config file reads the variable NAME.
            """)

    @OptionGroup var options: ConfigOption

    func run() async throws {
        // First thing, before any thread starts (DESIGN.md, "The libcurl engine").
        GatewayEnvironment.prepareProcess()
        let level = ProcessEnvironment.current["GATEWAY_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "gateway")
        let application = GatewayApplication(
            options: .init(configPath: self.options.config, environment: ProcessEnvironment.current),
            logger: logger)
        let outcome: GatewayApplication.Outcome
        do {
            outcome = try await application.run()
        } catch {
            if let problems = GatewayApplication.problems(of: error) {
                for problem in problems { print(problem) }
                throw ExitCode(1)
            }
            throw error
        }
        if outcome == .drainTimedOut {
            // In-flight requests were cut off at `drain_timeout`.
            throw ExitCode(3)
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a config file and print every problem.",
        discussion: "Exit codes: 0 the file is valid; 1 it is not (each problem printed as PATH:LINE:COLUMN: message).")

    @Argument(help: "The YAML config file (the same as --config).")
    var file: String?

    @Option(name: .long, help: "The YAML config file (default: config/gateway.yaml).")
    var config: String?

    /// The file named either way, or the default.
    var path: String { self.file ?? self.config ?? "config/gateway.yaml" }

    func validate() throws {
        if let file = self.file, let config = self.config, file != config {
            throw ValidationError("Name the config file once: as an argument or with --config, not both.")
        }
    }

    func run() throws {
        let loader = GatewayApplication.configLoader(environment: ProcessEnvironment.current)
        do {
            _ = try loader.load(path: self.path)
            print("\(self.path): OK")
        } catch {
            for problem in error.problems { print(problem) }
            throw ExitCode(1)
        }
    }
}

struct Dialects: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the built-in dialects and vendor presets.")

    func run() {
        let width = GatewayEnvironment.dialects.map(\.name.count).max() ?? 0
        for entry in GatewayEnvironment.dialects {
            print(entry.name.padding(to: width) + "  " + entry.summary)
        }
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the envelope the gateway would send for an upstream response, and why.",
        discussion: """
            Reads one HTTP response as text (a status line such as 'HTTP/1.1 429 Too Many Requests', header \
            lines, a blank line, the body) from FILE, or from standard input when FILE is absent or '-'. Prints \
            the canonical envelope, then for each member the reader, key, header or rule it came from.
            Exit codes: 0 explained; 1 the input or the config could not be read.
            """)

    @Argument(help: "The response file; standard input when absent or '-'.")
    var file: String?

    @Option(name: .long, help: "A config file: its upstream's dialect, codes: table and errors: section apply.")
    var config: String?

    @Option(name: .long, help: "The upstream in --config whose dialect applies (needed when it has several).")
    var upstream: String?

    func run() throws {
        let input: [UInt8]
        do {
            input = try StandardInput.read(path: self.file)
        } catch {
            printError("gateway explain: \(error)")
            throw ExitCode(1)
        }
        do {
            let explainer = try ResponseExplainer(
                configPath: self.config, environment: ProcessEnvironment.current, upstreamName: self.upstream,
                nowUnixSeconds: time(nil))
            print(try explainer.explain(input), terminator: "")
        } catch {
            printError("gateway explain: \(error)")
            throw ExitCode(1)
        }
    }
}

/// Reads a whole file, or standard input, as bytes.
enum StandardInput {
    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    static func read(path: String?) throws -> [UInt8] {
        let descriptor: Int32
        if let path, path != "-" {
            descriptor = open(path, O_RDONLY)
            guard descriptor >= 0 else {
                throw ReadError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
            }
        } else {
            descriptor = STDIN_FILENO
        }
        defer { if descriptor != STDIN_FILENO { close(descriptor) } }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw ReadError(description: "read failed: \(String(cString: strerror(errno)))") }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            guard bytes.count <= 16 * 1024 * 1024 else { throw ReadError(description: "input larger than 16 MiB") }
        }
    }
}

func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("gateway \(GatewayVersion.current) (\(GatewayEnvironment.libcurlDescription))")
    }
}

/// Never thrown; lets `serve` rethrow errors it does not turn into an exit code.

/// The process environment as a dictionary (the one place the executable reads it; the config module receives it).
enum ProcessEnvironment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

extension String {
    func padding(to width: Int) -> String {
        self.count >= width ? self : self + String(repeating: " ", count: width - self.count)
    }
}
