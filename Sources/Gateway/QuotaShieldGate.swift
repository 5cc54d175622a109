import GatewayCore
import HTTPTypes
import NIOHTTP1

/// The quota-shield step of a request (SPEC section 2, `quota_shield`): before the upstream is called, a block in
/// force for the request's key answers it; after, a response that says the vendor's limit is spent records one.
struct QuotaShieldGate: Sendable {
    /// What the gateway answers while a block holds.
    struct Answer {
        var block: QuotaShieldBlock
        var retryAfterSeconds: Int
        var detail: String {
            self.block.kind == .quota
                ? "The upstream's quota is spent; the gateway does not call it until the quota resets."
                : "The upstream's rate limit is spent; the gateway does not call it until the limit resets."
        }
    }

    let store: any QuotaShieldStore
    let metrics: GatewayMetrics

    private func key(_ upstream: UpstreamConfiguration, _ shield: QuotaShieldConfiguration, _ headers: HTTPHeaders)
        -> String
    {
        switch shield.key {
        case .global:
            return QuotaShield.storeKey(upstream: upstream.name, key: .global, headerValue: nil)
        case .header(let name):
            let values = headers[name]
            return QuotaShield.storeKey(
                upstream: upstream.name, key: shield.key,
                headerValue: values.isEmpty ? nil : values.joined(separator: ", "))
        }
    }

    /// The answer to give instead of calling the upstream, or nil to call it.
    func check(upstream: UpstreamConfiguration, headers: HTTPHeaders) async -> Answer? {
        guard let shield = upstream.quotaShield else { return nil }
        let now = Int64(DateHeader.unixMilliseconds())
        guard let block = await self.store.block(for: self.key(upstream, shield, headers), nowUnixMilliseconds: now)
        else { return nil }
        self.metrics.quotaShielded(upstream: upstream.name)
        return Answer(block: block, retryAfterSeconds: block.retryAfterSeconds(nowUnixMilliseconds: now))
    }

    /// Records a block when the upstream's response says its limit is spent.
    /// - Parameter code: the canonical code of a rewritten error (nil for a response passed through).
    func observe(
        upstream: UpstreamConfiguration, clientHeaders: HTTPHeaders, head: UpstreamResponseHead, code: ErrorCode?
    ) async {
        guard let shield = upstream.quotaShield else { return }
        let now = Int64(DateHeader.unixMilliseconds())
        guard
            let block = QuotaShield.block(
                status: head.status, headers: head.headers, code: code, nowUnixMilliseconds: now,
                maxWait: shield.maxWait)
        else { return }
        await self.store.record(block, for: self.key(upstream, shield, clientHeaders), nowUnixMilliseconds: now)
    }
}
