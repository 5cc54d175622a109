import CurlTransport
import Foundation
import GatewayCore
import GatewayTestSupport
import Logging
import NIOCore
import NIOPosix
import Testing
import VendorSimulator

@testable import Gateway

/// One curl engine per event loop of the proxy listener (`PairedCurlEngines`): a loop's requests go through its own
/// engine and connection pool, and an upstream with `max_connections` keeps one pool whatever the loop.
@Suite struct PairedEnginesTests {
    private static let logger = Logger(label: "paired-engines-test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func eachLoopHasItsEngineAndCallersOffTheLoopsTakeTurns() async throws {
        try await withEventLoops(3) { group in try await Self.checkPairing(on: group) }
    }

    private static func checkPairing(on group: MultiThreadedEventLoopGroup) async throws {
        let paired = PairedCurlEngines(group: group, maximumEngines: nil, logger: Self.logger)
        #expect(paired.engines.count == 3)

        var seen: [Int] = []
        for loop in group.makeIterator() {
            let first = try await loop.submit { paired.engineIndexForCurrentThread() }.get()
            let again = try await loop.submit { paired.engineIndexForCurrentThread() }.get()
            #expect(first == again, "a loop is always served by the same engine")
            seen.append(first)
        }
        #expect(seen == [0, 1, 2])

        // Off the loops (this test's own thread): every engine in turn.
        let turns = (0..<6).map { _ in paired.engineIndexForCurrentThread() }
        #expect(Set(turns) == [0, 1, 2])
        #expect(turns[0..<3].sorted() == [0, 1, 2])

        // A counted upstream's tries always go to one engine: the same for the same key, whatever the thread.
        for key in [0, 1, -1, Int.min, Int.max, "dokai".hashValue] {
            let here = paired.onePool(for: key) as? CurlEngine
            let onTheLoop = try await group.next().submit { paired.onePool(for: key) as? CurlEngine }.get()
            let index = paired.engines.firstIndex { $0 === here }
            #expect(index != nil)
            #expect(here === onTheLoop)
        }
    }

    /// Fewer CPUs than loops (a `taskset`, a cpuset): as many engines as CPUs, the loops sharing them in turn.
    @Test func noMoreEnginesThanCPUs() async throws {
        try await withEventLoops(3) { group in
            let paired = PairedCurlEngines(group: group, maximumEngines: 2, logger: Self.logger)
            #expect(paired.engines.count == 2)
            var used: [Int] = []
            for loop in group.makeIterator() {
                used.append(try await loop.submit { paired.engineIndexForCurrentThread() }.get())
            }
            #expect(used == [0, 1, 0])
        }
    }

    /// The default limit is the affinity mask's CPU count, as the kernel reports it in `/proc/self/status`.
    @Test func theAllowedCPUsAreTheAffinityMasks() throws {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        let list = line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
        let count = list.split(separator: ",").map { range -> Int in
            let bounds = range.split(separator: "-").compactMap { Int($0) }
            return bounds.count == 2 ? bounds[1] - bounds[0] + 1 : 1
        }.reduce(0, +)
        #expect(CurlEngine.allowedCPUCount == count)
    }

    @Test func oneLoopMeansOneEngine() async throws {
        try await withEventLoops(1) { group in
            let paired = PairedCurlEngines(group: group, logger: Self.logger)
            #expect(paired.engines.count == 1)
            #expect((0..<4).map { _ in paired.engineIndexForCurrentThread() } == [0, 0, 0, 0])
            let onTheLoop = try await group.next().submit { paired.engineIndexForCurrentThread() }.get()
            #expect(onTheLoop == 0)
        }
    }

    /// Requests one at a time over client connections spread over two loops: each loop's engine keeps its own
    /// upstream connection, so the upstream sees two; with `max_connections: 1` it sees one, whichever loop a request
    /// came in on.
    @Test(arguments: [nil, 1] as [Int?])
    func upstreamConnectionsFollowTheEnginesUnlessCounted(maxConnections: Int?) async throws {
        // Two engines unless the process may run on one CPU only (then the two loops share one).
        let expected = maxConnections == nil ? min(2, CurlEngine.allowedCPUCount ?? 2) : 1
        try await withEventLoops(2) { group in
            let simulator = try await VendorSimulator.start()
            let limit = maxConnections.map { "    max_connections: \($0)\n" } ?? ""
            let yaml = """
                server:
                  listen: 127.0.0.1:0
                  admin_listen: 127.0.0.1:0
                upstreams:
                  sim:
                    url: http://127.0.0.1:\(simulator.port)
                \(limit)
                routes:
                  - { name: sim, path_prefix: /sim/, strip_prefix: true, upstream: sim }

                """
            try await withOpsGateway(yaml: yaml, proxyEventLoopGroup: group, stopping: simulator) { gateway in
                // The listener hands accepted connections to its loops in turn: six connections cover both loops.
                var clients: [RawHTTPClient] = []
                for _ in 0..<6 { clients.append(try await RawHTTPClient.connect(port: gateway.proxyPort)) }
                for round in 0..<3 {
                    for (index, client) in clients.enumerated() {
                        try await client.send(
                            "GET /sim/dokstamp/certificates?c=\(index)&r=\(round) HTTP/1.1\r\nHost: g\r\n\r\n")
                        #expect(try await client.readResponse().status == 200)
                    }
                }
                for client in clients { await client.close() }
                #expect(simulator.requestCount() == 18)
                #expect(simulator.connectionCount() == expected)
            }
        }
    }
}
