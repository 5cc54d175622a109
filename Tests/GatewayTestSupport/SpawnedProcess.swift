#if canImport(Glibc)
public import Glibc
#elseif canImport(Musl)
public import Musl
#endif

/// A program a test runs (`openssl`, `slowhttptest`, `nginx`, the `gateway` executable), with a clean signal state
/// and nothing of the test process but its environment, ended and reaped by that test. Every child process of the
/// tests starts here; none uses Foundation's `Process`, for two reasons:
///
/// - `Process` passes the test runner's signal state on: swift-service-lifecycle ignores SIGTERM, SIGINT and SIGHUP
///   in the test process so that its signal sequences receive them, and an ignored signal stays ignored across
///   `exec`. A child started that way never ends on SIGTERM and outlives the test run. This starts the child with
///   `posix_spawn`, every signal back at its default action and none blocked, so SIGTERM ends it as it would from a
///   shell; `terminate(grace:)` sends it, falls back to SIGKILL, and always reaps.
/// - `Process.run()` of Swift 6.3.1 on Linux crashes now and then (SIGSEGV in `memmove`): it copies a whole
///   256-byte `d_name` out of each `/proc/self/fd` entry, reading past glibc's buffer when an entry ends a page
///   (swiftlang/swift-corelibs-foundation#5472). A parallel run of this suite hit it in `TestPKI`.
public final class SpawnedProcess: @unchecked Sendable {
    // @unchecked: `waitStatus` is only touched by the one test task that owns the process.
    public let pid: pid_t
    private var waitStatus: Int32?

    /// A failed `posix_spawn`.
    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    /// How the process ended.
    public enum Ending: Equatable, Sendable {
        case exited(Int32)
        case signalled(Int32)

        /// The status a shell reports: the exit code, or 128 plus the signal's number.
        public var status: Int32 {
            switch self {
            case .exited(let code): code
            case .signalled(let signal): 128 + signal
            }
        }
    }

    /// Starts `executable` (an absolute path) with `arguments`. Standard input reads `inputPath`; standard output
    /// goes to `outputPath` and standard error to `errorPath`, or to `outputPath` as well when it is nil (files are
    /// created or truncated). The child runs in `currentDirectory` (this process's when nil), with this process's
    /// environment plus `environment`.
    public init(
        _ executable: String, _ arguments: [String], outputPath: String = "/dev/null", errorPath: String? = nil,
        inputPath: String = "/dev/null", currentDirectory: String? = nil, environment: [String: String] = [:]
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, inputPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        } else {
            posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
        }
        // After the opens, so that relative file paths are this process's.
        if let currentDirectory, Self.addChangeDirectory(&actions, currentDirectory) != 0 {
            throw SpawnError(description: "posix_spawn_file_actions_addchdir_np failed")
        }
        // Nothing else of this process may live on in the child. SwiftNIO and libcurl open sockets without
        // close-on-exec, and a child spawned while a test holds one keeps it open: closing it then sends no FIN until
        // the child exits, so another test's peer sees its connection stay open for seconds (the intermittent of
        // issue 12: "a client that leaves before the upstream's head").
        guard Self.addCloseFrom(&actions, 3) == 0 else {
            throw SpawnError(description: "posix_spawn_file_actions_addclosefrom_np failed")
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var inherited: [UnsafeMutablePointer<CChar>?] = []
        var entry = environ
        while let variable = entry.pointee {
            inherited.append(variable)
            entry += 1
        }
        let added: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") }
        defer { for variable in added { free(variable) } }
        let envp = added + inherited + [nil]
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnError(description: "posix_spawn \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; Swift's Glibc module does not import it),
    /// looked up once.
    private static let addCloseFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 =
        {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
            else {
                fatalError("this libc has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later needed)")
            }
            return unsafeBitCast(
                symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        }()

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29 and later; not imported either), looked up once.
    private static let addChangeDirectory:
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32 = {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
            else {
                fatalError("this libc has no posix_spawn_file_actions_addchdir_np (glibc 2.29 or later needed)")
            }
            return unsafeBitCast(
                symbol,
                to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32)
                    .self)
        }()

    /// Whether it still runs (reaping it if it has ended).
    public var isRunning: Bool { self.ending() == nil }

    /// Waits for the exit, polling without holding a thread, for at most `timeout`. Returns how it ended, or nil if
    /// it still runs (the caller decides: ``killNow()``, or report it).
    public func exit(within timeout: Duration) async -> Ending? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let ending = self.ending() { return ending }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return self.ending()
    }

    /// Waits for the exit, blocking the calling thread: only for a short program called from synchronous code
    /// (`openssl` making a certificate); async code uses ``exit(within:)``.
    public func waitForExit() -> Ending {
        if let ending = self.ending() { return ending }
        var status: Int32 = 0
        while waitpid(self.pid, &status, 0) == -1, errno == EINTR {}
        self.waitStatus = status
        return Self.decode(status)
    }

    /// How it ended, if it has (reaping it then); nil while it runs.
    public func ending() -> Ending? {
        if self.waitStatus == nil {
            var status: Int32 = 0
            if waitpid(self.pid, &status, WNOHANG) == self.pid { self.waitStatus = status }
        }
        return self.waitStatus.map(Self.decode)
    }

    /// Sends SIGTERM and waits up to `grace` for the exit; past it, SIGKILL. Returns how the process ended, which
    /// is `.signalled(SIGKILL)` only when SIGTERM did not end it.
    @discardableResult
    public func terminate(grace: Duration = .seconds(5)) async -> Ending {
        if let ending = self.ending() { return ending }
        kill(self.pid, SIGTERM)
        return await self.exit(within: grace) ?? self.killNow()
    }

    /// Kills the process at once (SIGKILL), as a crash would, and reaps it. Returns how it ended.
    @discardableResult
    public func killNow() -> Ending {
        if let ending = self.ending() { return ending }
        kill(self.pid, SIGKILL)
        // SIGKILL cannot be caught: this wait is short.
        return self.waitForExit()
    }

    /// Sends `signal` (SIGSTOP to freeze it, SIGCONT to thaw it) while the process runs.
    public func send(_ signal: Int32) {
        if self.ending() == nil { kill(self.pid, signal) }
    }

    private static func decode(_ status: Int32) -> Ending {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
        status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
    }

    deinit {
        // A test that forgot to end it: do not leave it behind.
        if self.waitStatus == nil {
            kill(self.pid, SIGKILL)
            var status: Int32 = 0
            waitpid(self.pid, &status, 0)
        }
    }
}
