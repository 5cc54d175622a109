/// The validated, immutable configuration of one gateway (SPEC section 2).
///
/// `GatewayConfig` builds it from YAML; nothing else in the gateway reads YAML or the environment. A reload builds
/// a new value and swaps it in; requests in flight keep the one they started with.
public struct GatewayConfiguration: Sendable, Equatable {
    public var server: ServerConfiguration
    public var errors: ErrorsConfiguration
    public var rateLimitStore: RateLimitStoreConfiguration
    /// Named token-bucket policies, in file order.
    public var rateLimits: [RateLimitPolicy]
    /// Upstreams by name.
    public var upstreams: [String: UpstreamConfiguration]
    /// Routes in file order: the first match wins.
    public var routes: [RouteConfiguration]

    public init(
        server: ServerConfiguration = .init(),
        errors: ErrorsConfiguration = .init(),
        rateLimitStore: RateLimitStoreConfiguration = .memory,
        rateLimits: [RateLimitPolicy] = [],
        upstreams: [String: UpstreamConfiguration],
        routes: [RouteConfiguration]
    ) {
        self.server = server
        self.errors = errors
        self.rateLimitStore = rateLimitStore
        self.rateLimits = rateLimits
        self.upstreams = upstreams
        self.routes = routes
    }
}

/// A `host:port` to listen on.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}

/// An IPv4 or IPv6 network in CIDR notation (`server.trusted_proxies`).
public struct CIDRBlock: Sendable, Hashable, CustomStringConvertible {
    /// The network address, 4 or 16 bytes.
    public let network: [UInt8]
    public let prefixLength: Int

    /// Parses `10.0.0.0/8`, `::1/128`, or a bare address (a /32 or /128).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddressParser.parse(String(parts[0])) else { return nil }
        let maxLength = address.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...maxLength).contains(length) else { return nil }
            self.prefixLength = length
        } else {
            self.prefixLength = maxLength
        }
        self.network = address
    }

    /// Whether `address` (4 or 16 bytes; an IPv4-mapped IPv6 address counts as IPv4) is inside this block.
    public func contains(_ address: [UInt8]) -> Bool {
        var candidate = address
        if candidate.count == 16, self.network.count == 4,
            candidate.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]
        {
            candidate = Array(candidate.suffix(4))
        }
        guard candidate.count == self.network.count else { return false }
        var remaining = self.prefixLength
        for index in 0..<candidate.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if candidate[index] & mask != self.network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String {
        "\(IPAddressParser.format(self.network))/\(self.prefixLength)"
    }
}

/// Parses and formats textual IP addresses without the socket layer.
public enum IPAddressParser {
    /// The bytes of an IPv4 (4) or IPv6 (16) address, or nil.
    public static func parse(_ text: String) -> [UInt8]? {
        if text.contains(":") { return self.parseIPv6(text) }
        return self.parseIPv4(text)
    }

    static func parseIPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else {
                return nil
            }
            bytes.append(value)
        }
        return bytes
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let zone = text.firstIndex(of: "%") { text = text[..<zone] }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(String(piece)) else { return nil }
                    bytes += v4
                } else {
                    guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                    bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
                }
            }
            return bytes
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count < 16 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    /// Text of a 4- or 16-byte address (IPv6 without zero compression).
    public static func format(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: bytes.count, by: 2).map {
            String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
        }.joined(separator: ":")
    }
}

extension Substring {
    fileprivate func components(separatedBy separator: String) -> [String] {
        var result: [String] = []
        var rest = self
        while let range = rest.firstRange(of: separator) {
            result.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        result.append(String(rest))
        return result
    }
}
