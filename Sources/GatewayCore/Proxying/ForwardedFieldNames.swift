public import HTTPTypes

/// The `X-Forwarded-*` header fields (de facto standard; RFC 7239's `Forwarded` is not used), declared once: the
/// proxy writes them upstream, and the rate-limit key resolver reads `X-Forwarded-For` behind trusted proxies.
extension HTTPField.Name {
    /// The client addresses a request passed through, the nearest last.
    public static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    /// The scheme (`http` or `https`) the client used to reach the gateway.
    public static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    /// The `Host` the client sent to the gateway.
    public static let xForwardedHost = HTTPField.Name("X-Forwarded-Host")!
}
