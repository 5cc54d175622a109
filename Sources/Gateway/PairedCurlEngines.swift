import CurlTransport
import GatewayCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The gateway's upstream client: a curl engine per event loop of the proxy listener, each loop's requests sent by
/// its own engine.
///
/// A request hands its transfer to an engine thread and gets its response back on its loop. With one engine for all
/// loops, every loop's hand-offs meet on one thread, and when the loops run on several cores each hand-off wakes a
/// thread on another core. Paired, a loop and its engine exchange work with each other only: DESIGN.md's "shard: N
/// engines, each with its own `CURLM`", as many pairs as cores.
///
/// As many pairs as the cores the process may use: NIO sizes its loops from the cgroup's CPU limits but not from the
/// affinity mask (`taskset`, a cpuset), so a gateway confined to fewer CPUs than it has loops runs only as many
/// engines as it has CPUs, and loop `i` uses engine `i % engines` (more engine threads than CPUs would only take
/// turns on them).
///
/// Each engine has its own connection pool. An upstream whose connections are counted (`max_connections`) is served
/// by one engine whatever the loop (``onePool(for:)``), so its connections are all in one pool. A caller that runs
/// on none of the loops (a test, a task without the loop's executor) is served by the engines in turn.
final class PairedCurlEngines: UpstreamClient, Service, Sendable {
    /// The engines; the `i`-th loop of the group uses `engines[i % engines.count]`.
    let engines: [CurlEngine]
    /// The loops of the group, in its order.
    private let loops: [ObjectIdentifier]
    /// Turns for callers off the loops.
    private let nextTurn = Atomic<Int>(0)

    /// One engine per loop of `group`, at most `maximumEngines` (default: the CPUs the process may run on) and at
    /// least one, with threads named `curl-engine-<i>`.
    init(
        group: any EventLoopGroup, maximumEngines: Int? = CurlEngine.allowedCPUCount,
        configuration: CurlEngine.Configuration = .init(), logger: Logger
    ) {
        let loops = group.makeIterator().map { ObjectIdentifier($0) }
        self.loops = loops
        let count = max(1, min(loops.count, maximumEngines ?? loops.count))
        self.engines = (0..<count).map { index in
            var configuration = configuration
            configuration.threadName = "curl-engine-\(index)"
            return CurlEngine(configuration: configuration, logger: logger)
        }
    }

    /// The index of the engine that serves a request made on the current thread: its event loop's engine, or the
    /// next in turn off the loops.
    func engineIndexForCurrentThread() -> Int {
        if self.engines.count == 1 { return 0 }
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop {
            let current = ObjectIdentifier(loop)
            // A handful of loops: a scan beats hashing.
            if let index = self.loops.firstIndex(of: current) { return index % self.engines.count }
        }
        return Int(
            UInt(bitPattern: self.nextTurn.wrappingAdd(1, ordering: .relaxed).oldValue) % UInt(self.engines.count))
    }

    func execute(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        try await self.engines[self.engineIndexForCurrentThread()].execute(request)
    }

    func onePool(for key: Int) -> any UpstreamClient {
        self.engines[Int(UInt(bitPattern: key) % UInt(self.engines.count))]
    }

    /// Service: runs every engine (each starts, waits for graceful shutdown, then stops and joins its thread).
    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for engine in self.engines {
                group.addTask { try await engine.run() }
            }
        }
    }
}
