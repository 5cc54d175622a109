import GatewayCore

/// Reads an upstream's connection keys (SPEC section 2): `http_version`, `max_connections`, `proxy`, `no_proxy` and
/// `quota_shield`.
enum EgressSection {
    static let quotaShieldKeys = ["key", "max_wait"]

    static func read(_ fields: ConfigMapping, into upstream: inout UpstreamConfiguration) {
        if let value = fields["http_version"]?.value(expecting: "auto, \"1.1\" or \"2\"", Self.parseHTTPVersion) {
            upstream.httpVersion = value
        }
        if let value = fields["max_connections"]?.integer(atLeast: 1) { upstream.maxConnections = value }
        if let node = fields["proxy"], !node.isNull {
            upstream.proxy = node.value(
                expecting: "a proxy URL like http://[user:password@]host:port (http, https or socks5h)"
            ) { EgressProxy($0) }
        }
        if let items = fields["no_proxy"]?.sequence() {
            upstream.noProxy = items.compactMap { item in
                item.value(expecting: "a host name, .domain suffix, IP address or *") { text in
                    Self.isNoProxyEntry(text) ? text : nil
                }
            }
            if upstream.proxy == nil, fields["proxy"] == nil, let node = fields["no_proxy"], !upstream.noProxy.isEmpty {
                node.problemAtKey("no_proxy needs proxy")
            }
        }
        if let node = fields["quota_shield"], !node.isNull {
            upstream.quotaShield = Self.readQuotaShield(node)
        }
    }

    /// `auto`, `1.1`, `2` (YAML may read the last two as numbers: `2.0` is taken as `2` too).
    static func parseHTTPVersion(_ text: String) -> UpstreamHTTPVersion? {
        switch text {
        case "auto": return .auto
        case "1.1": return .http1_1
        case "2", "2.0": return .http2
        default: return nil
        }
    }

    /// curl's `NOPROXY` syntax, one entry: a host name or `.suffix`, an IP address, a CIDR block, or `*`.
    static func isNoProxyEntry(_ text: String) -> Bool {
        if text == "*" { return true }
        guard !text.isEmpty, text.count <= 253 else { return false }
        return text.allSatisfy { character in
            character.isASCII && (character.isLetter || character.isNumber || "-.:/[]".contains(character))
        }
    }

    private static func readQuotaShield(_ node: ConfigNode) -> QuotaShieldConfiguration? {
        guard let fields = node.mapping(allowedKeys: self.quotaShieldKeys) else { return nil }
        var shield = QuotaShieldConfiguration()
        if let key = fields["key"]?.value(expecting: "global or header:NAME", Self.parseKey) { shield.key = key }
        if let value = fields["max_wait"]?.duration() { shield.maxWait = value }
        return shield
    }

    private static func parseKey(_ text: String) -> QuotaShieldConfiguration.Key? {
        if text == "global" { return .global }
        guard text.hasPrefix("header:") else { return nil }
        let name = String(text.dropFirst("header:".count))
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
        else { return nil }
        return .header(name)
    }
}
