public import HTTPTypes

/// Reads how long an upstream asks its clients to wait, from every header form vendors use.
///
/// - `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3).
/// - `X-RateLimit-Reset`, `X-Quota-Reset`: Unix time, or seconds from now. The two are told apart by size: a value
///   above ``unixTimeThreshold`` (early 2001 as Unix time; more than 31 years as a delay) is a timestamp.
/// - `RateLimit: "name";r=0;t=12` (IETF draft-ietf-httpapi-ratelimit-headers): `t` is seconds from now.
public enum RetryHint {
    /// Values above this are Unix timestamps; below, delays in seconds.
    public static let unixTimeThreshold = 1_000_000_000

    /// The `Retry-After` value (and `retry_after`) for a wait the gateway imposes: whole seconds, rounded up, at
    /// least 1 (a 0 would invite an immediate retry).
    public static func headerSeconds(for wait: Duration) -> Int {
        let (seconds, attoseconds) = wait.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }

    /// Seconds to wait according to `Retry-After`, or nil when absent or unreadable. A date in the past is 0.
    /// Decimal seconds (`2.0`, as Shopify sends) are read too and rounded up.
    public static func retryAfter(_ value: String, nowUnixSeconds: Int) -> Int? {
        let trimmed = Substring(value).trimmingASCIIWhitespace()
        if let seconds = Int(trimmed), seconds >= 0 { return seconds }
        if let first = trimmed.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9"),
            trimmed.utf8.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") }
            ),
            let real = Double(trimmed), real.isFinite, real < 1e12
        {
            return Int(real.rounded(.up))
        }
        if let date = HTTPDate.parse(trimmed) { return max(0, date - nowUnixSeconds) }
        return nil
    }

    /// Seconds until a `*-Reset` value, read as Unix time or as seconds from now.
    public static func reset(_ value: String, nowUnixSeconds: Int) -> Int? {
        let trimmed = Substring(value).trimmingASCIIWhitespace()
        let number: Int?
        if let integer = Int(trimmed) {
            number = integer
        } else if let real = Double(trimmed), real.isFinite, real >= 0, real < 1e12 {
            number = Int(real.rounded(.up))
        } else {
            number = nil
        }
        guard let number, number >= 0 else { return nil }
        return number > Self.unixTimeThreshold ? max(0, number - nowUnixSeconds) : number
    }

    /// The smallest `t=` of the items of an IETF `RateLimit` field whose `r` is 0 (an exhausted window), or nil.
    public static func rateLimitField(_ value: String) -> Int? {
        var best: Int?
        for item in value.split(separator: ",") {
            var remaining: Int?
            var reset: Int?
            for parameter in item.split(separator: ";").dropFirst() {
                let pair = parameter.trimmingASCIIWhitespace().split(separator: "=", maxSplits: 1)
                guard pair.count == 2, let number = Int(pair[1].trimmingASCIIWhitespace()) else { continue }
                switch pair[0] {
                case "r": remaining = number
                case "t": reset = number
                default: break
                }
            }
            if remaining == 0, let reset, reset >= 0 { best = min(best ?? reset, reset) }
        }
        return best
    }

    /// The wait an upstream response asks for: `Retry-After` first, then an exhausted `RateLimit` item, then
    /// `X-RateLimit-Reset` when `X-RateLimit-Remaining` is 0 (or the status is 429), then `X-Quota-Reset` when
    /// `X-Quota-Remaining` is 0. Nil when no header says.
    public static func seconds(status: Int, headers: HTTPFields, nowUnixSeconds: Int) -> Int? {
        Self.secondsWithSource(status: status, headers: headers, nowUnixSeconds: nowUnixSeconds)?.seconds
    }

    /// Whether a field of this name may be one ``secondsWithSource(status:headers:nowUnixSeconds:)`` reads:
    /// `Retry-After`, or a rate-limit field of the upstream's (``RateLimitHeaders/isUpstreamField(_:)``, whose prefix
    /// check tells most names apart by their first byte).
    static func mayStateAWait(_ name: HTTPField.Name) -> Bool {
        RateLimitHeaders.isUpstreamField(name)
            || (name.canonicalName.utf8.first == UInt8(ascii: "r") && name == .retryAfter)
    }

    /// ``seconds(status:headers:nowUnixSeconds:)`` with the name of the header field that said it.
    public static func secondsWithSource(
        status: Int, headers: HTTPFields, nowUnixSeconds: Int
    ) -> (seconds: Int, field: String)? {
        // Most error responses carry none of the fields below: one pass says so, instead of six look-ups.
        guard headers.contains(where: { Self.mayStateAWait($0.name) }) else { return nil }
        if let value = headers.value(of: .retryAfter),
            let seconds = Self.retryAfter(value, nowUnixSeconds: nowUnixSeconds)
        {
            return (seconds, "Retry-After")
        }
        if let value = headers.value(of: .rateLimit), let seconds = Self.rateLimitField(value) {
            return (seconds, "RateLimit")
        }
        if let value = headers.value(of: .xRateLimitReset),
            status == 429 || headers.value(of: .xRateLimitRemaining).flatMap({ Int($0) }) == 0,
            let seconds = Self.reset(value, nowUnixSeconds: nowUnixSeconds)
        {
            return (seconds, "X-RateLimit-Reset")
        }
        if let value = headers.value(of: .xQuotaReset), headers.value(of: .xQuotaRemaining).flatMap({ Int($0) }) == 0,
            let seconds = Self.reset(value, nowUnixSeconds: nowUnixSeconds)
        {
            return (seconds, "X-Quota-Reset")
        }
        return nil
    }
}
