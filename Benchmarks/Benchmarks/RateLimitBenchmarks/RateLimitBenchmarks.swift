import Benchmark
import Foundation
import GatewayCore

/// The memory store's decision cost: one thread, and every core deciding at once (issue: "the cost of one decision
/// under contention from all cores … well under a microsecond").
enum RateLimitInputs {
    static let policy = RateLimitPolicy(
        name: "per_client", rate: Rate(count: 1_000_000, period: .seconds(1)), key: .clientIP)
    static let global = RateLimitPolicy(
        name: "global", rate: Rate(count: 1_000_000_000, period: .seconds(1)), key: .global)
    /// 10,000 distinct clients, so decisions spread over the shards like real traffic.
    static let keys: [String] = (0..<10_000).map { "10.0.\($0 / 256).\($0 % 256)" }
}

/// Runs `decisions` acquires split over `threads` threads at once; returns when all are done.
func decideConcurrently(
    store: MemoryRateLimitStore, threads: Int, decisions: Int, buckets: @escaping @Sendable (Int) -> [RateLimitBucket]
) {
    let group = DispatchGroup()
    let perThread = decisions / threads
    for thread in 0..<threads {
        group.enter()
        Thread.detachNewThread {
            var index = thread * 7919
            for _ in 0..<perThread {
                blackHole(store.acquire(buckets(index), now: Int64(index)))
                index &+= 1
            }
            group.leave()
        }
    }
    group.wait()
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2)
    )
    let cores = ProcessInfo.processInfo.activeProcessorCount

    Benchmark("MemoryRateLimitStore.acquire 1 policy, 1 thread") { benchmark in
        let store = MemoryRateLimitStore()
        for index in benchmark.scaledIterations {
            let key = RateLimitInputs.keys[index % RateLimitInputs.keys.count]
            blackHole(store.acquire([RateLimitBucket(policy: RateLimitInputs.policy, key: key)], now: Int64(index)))
        }
    }

    Benchmark("MemoryRateLimitStore.acquire 2 policies, 1 thread") { benchmark in
        let store = MemoryRateLimitStore()
        for index in benchmark.scaledIterations {
            let key = RateLimitInputs.keys[index % RateLimitInputs.keys.count]
            blackHole(
                store.acquire(
                    [
                        RateLimitBucket(policy: RateLimitInputs.policy, key: key),
                        RateLimitBucket(policy: RateLimitInputs.global, key: "g"),
                    ],
                    now: Int64(index)))
        }
    }

    // Every core decides at once: per-client keys (spread over shards), and one global key (a single hot shard).
    // A million decisions per sample, so starting the threads does not count.
    let concurrent = Benchmark.Configuration(
        metrics: [.wallClock, .throughput], scalingFactor: .mega, maxDuration: .seconds(3), maxIterations: 20)

    Benchmark("MemoryRateLimitStore.acquire, \(cores) threads, per-client keys", configuration: concurrent) {
        benchmark in
        let store = MemoryRateLimitStore()
        benchmark.startMeasurement()
        decideConcurrently(store: store, threads: cores, decisions: benchmark.scaledIterations.count) { index in
            [
                RateLimitBucket(
                    policy: RateLimitInputs.policy, key: RateLimitInputs.keys[index % RateLimitInputs.keys.count])
            ]
        }
        benchmark.stopMeasurement()
    }

    Benchmark("MemoryRateLimitStore.acquire, \(cores) threads, one global key", configuration: concurrent) {
        benchmark in
        let store = MemoryRateLimitStore()
        benchmark.startMeasurement()
        decideConcurrently(store: store, threads: cores, decisions: benchmark.scaledIterations.count) { _ in
            [RateLimitBucket(policy: RateLimitInputs.global, key: "g")]
        }
        benchmark.stopMeasurement()
    }
}
