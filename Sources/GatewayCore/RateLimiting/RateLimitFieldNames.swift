public import HTTPTypes

/// The rate-limit header fields the gateway writes and the vendors send, declared once for every module.
///
/// Two families: the IETF draft's `RateLimit` / `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers; its
/// earlier revisions' `RateLimit-Limit` / `-Remaining` / `-Reset` are still sent by some vendors), and the
/// de facto `X-RateLimit-*` and `X-Quota-*` fields.
extension HTTPField.Name {
    /// `RateLimit: "name";r=0;t=12`: the tokens left (`r`) and the seconds until the window is full again (`t`).
    public static let rateLimit = HTTPField.Name("RateLimit")!
    /// `RateLimit-Policy: "name";q=20;w=12`: each policy's quota (`q`) and window (`w`).
    public static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    /// The earlier IETF draft's limit.
    public static let rateLimitLimit = HTTPField.Name("RateLimit-Limit")!
    /// The earlier IETF draft's remaining quota.
    public static let rateLimitRemaining = HTTPField.Name("RateLimit-Remaining")!
    /// The earlier IETF draft's reset, in seconds.
    public static let rateLimitReset = HTTPField.Name("RateLimit-Reset")!
    /// The capacity of the most restrictive bucket.
    public static let xRateLimitLimit = HTTPField.Name("X-RateLimit-Limit")!
    /// The whole tokens left in the most restrictive bucket.
    public static let xRateLimitRemaining = HTTPField.Name("X-RateLimit-Remaining")!
    /// When the most restrictive bucket is full again: Unix time, or seconds from now (see ``RetryHint``).
    public static let xRateLimitReset = HTTPField.Name("X-RateLimit-Reset")!
    /// A vendor's quota (a longer window than its rate limit).
    public static let xQuotaLimit = HTTPField.Name("X-Quota-Limit")!
    /// What is left of a vendor's quota.
    public static let xQuotaRemaining = HTTPField.Name("X-Quota-Remaining")!
    /// When a vendor's quota is renewed: Unix time, or seconds from now.
    public static let xQuotaReset = HTTPField.Name("X-Quota-Reset")!
}

extension RateLimitHeaders {
    /// The rate-limit fields an upstream may send: an envelope that replaces an upstream error keeps them (merged
    /// with the gateway's), and a quota shield's answer repeats them, so neither hides a limit from the client.
    /// `Retry-After` is not one of them: the gateway writes its own.
    public static let upstreamFields: Set<HTTPField.Name> = [
        .rateLimit, .rateLimitPolicy, .rateLimitLimit, .rateLimitRemaining, .rateLimitReset,
        .xRateLimitLimit, .xRateLimitRemaining, .xRateLimitReset, .xQuotaLimit, .xQuotaRemaining, .xQuotaReset,
    ]

    /// Whether `name` is one of ``upstreamFields``: the set's answer, asked only of the names ``isRateLimitField(_:)``
    /// admits and the `X-Quota-*` ones, so the usual fields (`Date`, `Content-Type`, `X-Request-ID`…) are told apart
    /// without hashing.
    public static func isUpstreamField(_ name: HTTPField.Name) -> Bool {
        guard Self.isRateLimitField(name) || name.canonicalName.utf8.starts(with: "x-quota-".utf8) else {
            return false
        }
        return Self.upstreamFields.contains(name)
    }
}
