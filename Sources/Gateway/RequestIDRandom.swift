import Synchronization

/// The random bits of request ids: SplitMix64 over a process-wide atomic counter, seeded once from the system.
///
/// Request ids need to be unique, not secret, so the per-request cost is one atomic increment instead of a
/// `getrandom` system call per 8 bytes (which the load benchmark showed twice per request).
struct RequestIDRandom: RandomNumberGenerator {
    private static let seed: UInt64 = {
        var system = SystemRandomNumberGenerator()
        return system.next()
    }()
    private static let counter = Atomic<UInt64>(0)

    mutating func next() -> UInt64 {
        let (count, _) = Self.counter.add(1, ordering: .relaxed)
        // SplitMix64 (Steele, Lea, Flood 2014): a bijective mix of seed + counter × golden gamma.
        var z = Self.seed &+ count &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
