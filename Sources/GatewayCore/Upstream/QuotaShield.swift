public import HTTPTypes

/// That a vendor said its limit is spent for one upstream and key, until when, and what it said.
public struct QuotaShieldBlock: Sendable, Hashable {
    /// Which limit is spent: a rate (comes back within its window) or a quota (an allowance for a period).
    public enum Kind: String, Sendable, Hashable {
        case rate
        case quota
    }

    /// Unix time in milliseconds when the vendor's limit resets.
    public var untilUnixMilliseconds: Int64
    public var kind: Kind
    /// The vendor's rate-limit fields as last seen (``RateLimitHeaders/upstreamFields``), in the vendor's order.
    public var fields: [HTTPField]

    public init(untilUnixMilliseconds: Int64, kind: Kind, fields: [HTTPField]) {
        self.untilUnixMilliseconds = untilUnixMilliseconds
        self.kind = kind
        self.fields = fields
    }

    /// The canonical code of the gateway's answer while the block holds.
    public var code: ErrorCode { self.kind == .quota ? .quotaExceeded : .rateLimited }

    /// Whether the block still holds at `now`.
    public func holds(nowUnixMilliseconds now: Int64) -> Bool { now < self.untilUnixMilliseconds }

    /// Whole seconds until the reset, rounded up, at least 1: `retry_after` counts down with it.
    public func retryAfterSeconds(nowUnixMilliseconds now: Int64) -> Int {
        let left = max(0, self.untilUnixMilliseconds - now)
        return max(1, Int((left + 999) / 1000))
    }

    /// One line for a shared store: `until|kind|name:value|…`, each field's name and value percent-encoded where
    /// they contain `|`, `%` or `:` (a value never contains CR or LF: the head parser refused those).
    public func encoded() -> String {
        var parts = [String(self.untilUnixMilliseconds), self.kind.rawValue]
        for field in self.fields {
            parts.append(Self.escape(field.name.rawName) + ":" + Self.escape(field.value))
        }
        return parts.joined(separator: "|")
    }

    /// Reads ``encoded()``; nil for anything else.
    public init?(encoded text: String) {
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count >= 2, let until = Int64(parts[0]), let kind = Kind(rawValue: String(parts[1])) else {
            return nil
        }
        var fields: [HTTPField] = []
        for part in parts.dropFirst(2) {
            let pair = part.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, let name = HTTPField.Name(Self.unescape(pair[0])) else { return nil }
            let value = Self.unescape(pair[1])
            guard HTTPField.isValidValue(value) else { return nil }
            fields.append(HTTPField(name: name, value: value))
        }
        self.init(untilUnixMilliseconds: until, kind: kind, fields: fields)
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "%": out += "%25"
            case "|": out += "%7C"
            case ":": out += "%3A"
            default: out.append(character)
            }
        }
        return out
    }

    private static func unescape(_ text: Substring) -> String {
        text.replacingOccurrences("%3A", with: ":").replacingOccurrences("%7C", with: "|")
            .replacingOccurrences("%25", with: "%")
    }
}

extension StringProtocol {
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

/// The pure rules of `quota_shield` (SPEC section 2): when a vendor's response says its limit is spent, and for how
/// long.
///
/// A response says so when it is
/// - a 429 or 503 with `Retry-After` (seconds, decimal seconds or an HTTP-date) above zero;
/// - any response with an exhausted IETF `RateLimit` item (`"name";r=0;t=12`), or `RateLimit-Remaining: 0` with
///   `RateLimit-Reset`;
/// - any response with `X-RateLimit-Remaining: 0` and an `X-RateLimit-Reset` (Unix time or seconds from now);
/// - any response with `X-Quota-Remaining: 0` and `X-Quota-Reset` (a quota).
///
/// When several say, the latest reset wins: the vendor serves nothing before every spent window is back. A
/// remaining count of 0 without a reset is not enough (the gateway would not know when to call again), and a reset
/// further away than `max_wait` is not trusted. The block is a quota (`quota_exceeded`) when the vendor's quota
/// headers said it or the normalizer read the error as `quota_exceeded`; a rate limit (`rate_limited`) otherwise.
public enum QuotaShield {
    /// The block a response implies, or nil when it does not say the limit is spent.
    ///
    /// - Parameters:
    ///   - code: the canonical code the normalizer gave an error response (nil for a response passed through).
    public static func block(
        status: Int, headers: HTTPFields, code: ErrorCode?, nowUnixMilliseconds now: Int64, maxWait: Duration
    ) -> QuotaShieldBlock? {
        let nowSeconds = Int(now / 1000)
        var wait: Int?
        var quota = code == .quotaExceeded
        func consider(_ seconds: Int?, isQuota: Bool = false) {
            guard let seconds, seconds > 0 else { return }
            wait = max(wait ?? 0, seconds)
            if isQuota { quota = true }
        }
        if status == 429 || status == 503, let value = headers.value(of: .retryAfter) {
            consider(RetryHint.retryAfter(value, nowUnixSeconds: nowSeconds))
        }
        for value in headers[values: .rateLimit] {
            consider(RetryHint.rateLimitField(value))
        }
        if Self.isZero(headers.value(of: .rateLimitRemaining)), let value = headers.value(of: .rateLimitReset) {
            consider(RetryHint.reset(value, nowUnixSeconds: nowSeconds))
        }
        if Self.isZero(headers.value(of: .xRateLimitRemaining)), let value = headers.value(of: .xRateLimitReset) {
            consider(RetryHint.reset(value, nowUnixSeconds: nowSeconds))
        }
        if Self.isZero(headers.value(of: .xQuotaRemaining)), let value = headers.value(of: .xQuotaReset) {
            consider(RetryHint.reset(value, nowUnixSeconds: nowSeconds), isQuota: true)
        }
        guard let wait, Duration.seconds(wait) <= maxWait else { return nil }
        let fields = headers.filter { RateLimitHeaders.isUpstreamField($0.name) }
        return QuotaShieldBlock(
            untilUnixMilliseconds: now + Int64(wait) * 1000, kind: quota ? .quota : .rate, fields: Array(fields))
    }

    private static func isZero(_ value: String?) -> Bool {
        guard let value else { return false }
        return Int(Substring(value).trimmingASCIIWhitespace()) == 0
    }

    /// The store key of a request's block: the upstream's name and, for `header:NAME`, the SHA-256 of the header's
    /// value (never the value itself: it is usually a credential). A request without the header has a key of its
    /// own (`-`).
    public static func storeKey(upstream: String, key: QuotaShieldConfiguration.Key, headerValue: String?) -> String {
        switch key {
        case .global:
            return "\(upstream):global"
        case .header:
            guard let headerValue else { return "\(upstream):h:-" }
            return "\(upstream):h:\(SHA256.hexDigest(Array(headerValue.utf8)))"
        }
    }
}
