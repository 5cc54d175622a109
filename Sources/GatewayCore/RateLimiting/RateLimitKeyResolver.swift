public import HTTPTypes

/// Turns a request into the key each rate-limit policy counts it by (SPEC section 2, `rate_limits.*.key`).
///
/// - `client_ip`: the socket peer; when the peer is one of `server.trusted_proxies`, `X-Forwarded-For` is read
///   from the right, skipping trusted addresses, and the first untrusted address is the client (an unreadable
///   entry stops the walk: the last address passed is used). If every address is trusted, the left-most is.
/// - `header:NAME`: the header's value (every field line of that name, joined by `", "`); a request without
///   it falls back to its client IP.
/// - `route`: the route's name. `global`: one bucket for every request.
///
/// A header value is prefixed with `h`, a route name with `r`, and the global key is `g`; a client IP is its
/// canonical text alone (IPv4-mapped IPv6 as IPv4, IPv6 uncompressed without leading zeros), which only ever
/// holds `0-9a-f.:`. So a header whose value spells an IP address never shares the bucket of that IP's fallback,
/// one client has one key, and an IPv4 key (at most 15 bytes) fits in a string without a heap allocation.
public struct RateLimitKeyResolver: Sendable {
    /// Peers whose `X-Forwarded-For` is believed.
    public var trustedProxies: [CIDRBlock]

    public init(trustedProxies: [CIDRBlock]) {
        self.trustedProxies = trustedProxies
    }

    /// The key `policyKey` counts this request by.
    /// - Parameters:
    ///   - policyKey: the policy's key kind.
    ///   - headers: the request's header fields.
    ///   - routeName: the matched route's name.
    ///   - peer: the socket peer's address, 4 or 16 bytes (nil when unknown, e.g. a Unix socket).
    public func key(for policyKey: RateLimitKey, headers: HTTPFields, routeName: String, peer: [UInt8]?) -> String {
        switch policyKey {
        case .clientIP:
            return self.clientIP(headers: headers, peer: peer)
        case .header(let name):
            if let fieldName = HTTPField.Name(name) {
                let values = headers[fields: fieldName]
                if !values.isEmpty {
                    return "h" + values.map(\.value).joined(separator: ", ")
                }
            }
            return self.clientIP(headers: headers, peer: peer)
        case .route:
            return "r" + routeName
        case .global:
            return "g"
        }
    }

    /// The same, with the peer's address as text (`"10.0.0.1"`, `"::1"`, `"[::1]"`).
    public func key(for policyKey: RateLimitKey, headers: HTTPFields, routeName: String, peerText: String?) -> String {
        if case .clientIP = policyKey, self.trustedProxies.isEmpty, let peerText, Self.isCanonicalIPv4(peerText) {
            // Nearly every request: the peer's dotted IPv4 is already its key, so it is not parsed and written again.
            return peerText
        }
        return self.key(
            for: policyKey, headers: headers, routeName: routeName,
            peer: peerText.flatMap { IPAddressParser.parse($0) }
        )
    }

    /// Whether `text` is an IPv4 address written as ``format(_:)`` writes one: four decimal numbers up to 255,
    /// without leading zeros, between dots.
    static func isCanonicalIPv4(_ text: String) -> Bool {
        var parts = 0
        var digits = 0
        var value = 0
        var leadingZero = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return false }
                parts += 1
                digits = 0
                value = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), !leadingZero || digits == 0 else {
                return false
            }
            leadingZero = digits == 0 && byte == UInt8(ascii: "0")
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
            guard value <= 255 else { return false }
        }
        return parts == 3 && digits > 0
    }

    /// The client's address as canonical text: the peer, or the right-most untrusted `X-Forwarded-For` entry when
    /// the peer is a trusted proxy. `"unknown"` when there is no peer address.
    public func clientIP(headers: HTTPFields, peer: [UInt8]?) -> String {
        guard let peer else { return "unknown" }
        var client = Self.canonical(peer)
        guard self.isTrusted(client) else { return Self.format(client) }
        let entries = headers[fields: .xForwardedFor].flatMap { field in
            field.value.split(separator: ",").map { $0.trimmingASCIIWhitespace() }
        }
        for entry in entries.reversed() {
            guard let address = Self.parseForwarded(entry) else { break }
            client = Self.canonical(address)
            if !self.isTrusted(client) { break }
        }
        return Self.format(client)
    }

    private func isTrusted(_ address: [UInt8]) -> Bool {
        self.trustedProxies.contains { $0.contains(address) }
    }

    /// An `X-Forwarded-For` entry: an address, possibly `[v6]`, `v4:port` or `[v6]:port`.
    private static func parseForwarded(_ entry: Substring) -> [UInt8]? {
        if entry.hasPrefix("["), let close = entry.firstIndex(of: "]") {
            return IPAddressParser.parse(String(entry[entry.index(after: entry.startIndex)..<close]))
        }
        if let address = IPAddressParser.parse(String(entry)) { return address }
        if let colon = entry.lastIndex(of: ":"), entry.firstIndex(of: ":") == colon {
            return IPAddressParser.parse(String(entry[..<colon]))
        }
        return nil
    }

    private static func canonical(_ address: [UInt8]) -> [UInt8] {
        if address.count == 16, address.prefix(12).elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]) {
            return Array(address.suffix(4))
        }
        return address
    }

    private static func format(_ address: [UInt8]) -> String {
        IPAddressParser.format(address)
    }
}
