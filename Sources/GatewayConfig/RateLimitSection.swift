import GatewayCore
import HTTPTypes

/// Reads `rate_limit_store:` and `rate_limits:` (SPEC section 2).
enum RateLimitSection {
    /// `rate_limit_store.kind`.
    enum StoreKind: String, CaseIterable {
        case memory
        case redis
    }

    static let storeKeys = ["kind", "url", "on_failure", "timeout"]
    static let policyKeys = ["rate", "burst", "key"]

    static func readStore(_ node: ConfigNode) -> RateLimitStoreConfiguration {
        guard let fields = node.mapping(allowedKeys: self.storeKeys) else { return .memory }
        let kind: StoreKind?
        if let kindNode = fields["kind"] { kind = kindNode.choice(StoreKind.self) } else { kind = .memory }
        let onFailure = fields["on_failure"]?.choice(RateLimitStoreConfiguration.FailureMode.self)
        let timeout = fields["timeout"]?.duration()
        // The URL is checked whatever the kind, so that a file switching kinds through `${…}` is valid either way.
        let url = fields["url"]?.value(expecting: "a URL like redis://[user:password@]host:port/db") {
            RedisURLSyntax.parse($0)
        }
        guard kind == .redis else { return .memory }
        guard fields.values["url"] != nil else {
            node.problemAtKey("kind redis needs a url like redis://127.0.0.1:6379/0")
            return .memory
        }
        guard var redis = url else { return .memory }
        if let onFailure { redis.onFailure = onFailure }
        if let timeout { redis.timeout = timeout }
        return .redis(redis)
    }

    static func readPolicies(_ node: ConfigNode) -> [RateLimitPolicy] {
        guard let entries = node.entries() else { return [] }
        var policies: [RateLimitPolicy] = []
        for entry in entries {
            let validName = entry.checkName(kind: "rate limit policy")
            guard let fields = entry.value.mapping(allowedKeys: self.policyKeys) else { continue }
            let rate = fields.required("rate")?.value(expecting: "a rate like 100/s, 100/1m, 20/30s") {
                ConfigUnits.parseRate($0)
            }
            let burst = fields["burst"]?.integer(atLeast: 1)
            let key = fields["key"]?.value(expecting: "client_ip, header:NAME, route or global") {
                self.parseKey($0)
            }
            if validName, let rate {
                policies.append(RateLimitPolicy(name: entry.name, rate: rate, burst: burst, key: key ?? .clientIP))
            }
        }
        return policies
    }

    /// `client_ip`, `header:NAME` (NAME an HTTP field name), `route` or `global`.
    static func parseKey(_ text: String) -> RateLimitKey? {
        switch text {
        case "client_ip": return .clientIP
        case "route": return .route
        case "global": return .global
        default:
            guard text.hasPrefix("header:") else { return nil }
            let name = String(text.dropFirst("header:".count))
            guard HTTPField.Name(name) != nil else { return nil }
            return .header(name)
        }
    }
}

/// `redis://[user[:password]@]host[:port][/db]`; a user-info without `:` is a user name; `%XX` escapes in user
/// name and password are decoded. The port defaults to 6379 and the database to 0.
enum RedisURLSyntax {
    static func parse(_ text: String) -> RedisStoreConfiguration? {
        guard text.hasPrefix("redis://") else { return nil }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                username = self.percentDecoded(userInfo[..<colon])
                password = self.percentDecoded(userInfo[userInfo.index(after: colon)...])
                guard username != nil, password != nil else { return nil }
            } else {
                guard let decoded = self.percentDecoded(userInfo) else { return nil }
                username = decoded
            }
            if username == "" { username = nil }
            if password == "" { password = nil }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let databaseText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !databaseText.isEmpty {
                guard databaseText.count <= 5, databaseText.allSatisfy({ $0.isASCII && $0.isNumber }),
                    let number = Int(databaseText)
                else { return nil }
                database = number
            }
        }
        var host: Substring
        var port = 6379
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            guard IPAddressParser.parse(String(host))?.count == 16 else { return nil }
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = self.port(after.dropFirst()) else { return nil }
                port = number
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            guard let number = self.port(rest[rest.index(after: colon)...]) else { return nil }
            port = number
        } else {
            host = rest
        }
        guard host.contains(":") || ListenAddressSyntax.isHostName(host) else { return nil }
        return RedisStoreConfiguration(
            host: String(host), port: port, database: database, username: username, password: password)
    }

    private static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = Int(text), (1...65535).contains(number)
        else { return nil }
        return number
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(value)
            utf8 = utf8.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
