import ArgumentParser
import CurlTransport
import ErrorNormalization
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
        subcommands: [Serve.self, CheckConfig.self, Dialects.self, Version.self])
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
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        // First thing, before any thread starts (DESIGN.md, "The libcurl engine").
        CurlEngine.globalInit()
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
        commandName: "check-config", abstract: "Validate a config file and print every problem.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        let loader = GatewayApplication.configLoader(environment: ProcessEnvironment.current)
        do {
            _ = try loader.load(path: self.options.config)
            print("\(self.options.config): OK")
        } catch {
            for problem in error.problems { print(problem) }
            throw ExitCode(1)
        }
    }
}

struct Dialects: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the built-in dialects and vendor presets.")

    func run() {
        let width = ErrorNormalizer.catalog.map(\.name.count).max() ?? 0
        for entry in ErrorNormalizer.catalog {
            print(entry.name.padding(to: width) + "  " + entry.summary)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("gateway \(GatewayVersion.current) (\(CurlEngine.versionDescription))")
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
