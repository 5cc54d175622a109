import ArgumentParser
import Dispatch
import VendorSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `vendor-sim`: runs the vendor simulator until SIGINT or SIGTERM.
@main
struct VendorSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vendor-sim",
        abstract: "An HTTP/1.1 upstream that answers like the five seed vendors, scriptable per request.",
        discussion: VendorSimulator.usage
    )

    @Option(help: "The address to bind.")
    var host: String = "127.0.0.1"

    @Option(help: "The port to bind (0 picks a free one).")
    var port: Int = 9000

    @Option(name: .customLong("port-file"), help: "Write the bound port to this file (for scripts using port 0).")
    var portFile: String?

    @Option(
        name: .customLong("fixed-body-bytes"),
        help: """
            Answer every request with a 200 and a JSON body of this many bytes, and nothing else: the plain SwiftNIO \
            server bench/floors.sh measures as the listener's floor.
            """)
    var fixedBodyBytes: Int?

    func validate() throws {
        if let bytes = self.fixedBodyBytes, bytes < 0 {
            throw ValidationError("--fixed-body-bytes must not be negative")
        }
    }

    func run() async throws {
        if let bodyBytes = self.fixedBodyBytes {
            let server = try await FixedResponseServer.start(host: self.host, port: self.port, bodyBytes: bodyBytes)
            try self.announce(port: server.port)
            await Self.waitForTerminationSignal()
            try await server.shutdown()
            return
        }
        let simulator = try await VendorSimulator.start(configuration: .init(host: self.host, port: self.port))
        try self.announce(port: simulator.port)
        await Self.waitForTerminationSignal()
        try await simulator.shutdown()
    }

    /// Writes the port file, if asked for, and says where the server listens.
    private func announce(port: Int) throws {
        if let portFile = self.portFile {
            try Self.write("\(port)\n", to: portFile)
        }
        print("vendor-sim listening on \(self.host):\(port)")
        fflush(nil)  // stdout is a pipe in scripts: make the line visible now
    }

    /// Writes `text` to `path`, replacing the file.
    private static func write(_ text: String, to path: String) throws {
        guard let file = fopen(path, "w") else {
            throw ValidationError("cannot open port file \(path)")
        }
        defer { fclose(file) }
        guard fputs(text, file) >= 0 else {
            throw ValidationError("cannot write port file \(path)")
        }
    }

    /// Returns once SIGINT or SIGTERM arrives (both are ignored by default handling from then on).
    private static func waitForTerminationSignal() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queue = DispatchQueue(label: "vendor-sim.signals")
            // The sources must outlive this call; the once-only flag lives on the serial queue.
            let box = SignalSources()
            for signalNumber in [SIGINT, SIGTERM] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
                source.setEventHandler {
                    if box.fire() {
                        continuation.resume()
                    }
                }
                source.resume()
                box.sources.append(source)
            }
        }
    }
}

/// Keeps the signal sources alive and resumes the waiter once. Only touched on the signal queue after setup,
/// hence `@unchecked Sendable`.
private final class SignalSources: @unchecked Sendable {
    var sources: [any DispatchSourceSignal] = []
    private var fired = false

    func fire() -> Bool {
        defer { self.fired = true }
        return !self.fired
    }
}
