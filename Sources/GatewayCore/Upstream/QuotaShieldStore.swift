import Synchronization

/// Where quota-shield blocks live: in memory for one instance, or in Redis, shared by every instance.
///
/// Keys come from ``QuotaShield/storeKey(upstream:key:headerValue:)``: never a credential in clear.
public protocol QuotaShieldStore: Sendable {
    /// The block in force for `key` at `now`, if any.
    func block(for key: String, nowUnixMilliseconds now: Int64) async -> QuotaShieldBlock?
    /// Records a block for `key` (replacing an older one), kept until it expires.
    func record(_ block: QuotaShieldBlock, for key: String, nowUnixMilliseconds now: Int64) async
}

/// The quota shield's blocks of one gateway instance.
///
/// Blocks are few (one per upstream and key whose vendor said "spent") and short-lived; expired ones are removed
/// when read and by each write, so memory follows the blocks in force.
public final class MemoryQuotaShieldStore: QuotaShieldStore {
    private let blocks = Mutex<[String: QuotaShieldBlock]>([:])

    public init() {}

    public func block(for key: String, nowUnixMilliseconds now: Int64) async -> QuotaShieldBlock? {
        self.blocks.withLock { blocks in
            guard let block = blocks[key] else { return nil }
            if block.holds(nowUnixMilliseconds: now) { return block }
            blocks[key] = nil
            return nil
        }
    }

    public func record(_ block: QuotaShieldBlock, for key: String, nowUnixMilliseconds now: Int64) async {
        self.blocks.withLock { blocks in
            if blocks.count >= 1024 { blocks = blocks.filter { $0.value.holds(nowUnixMilliseconds: now) } }
            blocks[key] = block
        }
    }

    /// Blocks held, expired or not (for tests).
    public var count: Int { self.blocks.withLock { $0.count } }
}
