public import HTTPTypes

/// The hop-by-hop header policy of RFC 9110 section 7.6.1, applied in both directions (SPEC section 5).
public enum HopByHopHeaders {
    /// Headers that are never forwarded, whatever `Connection` says.
    public static let alwaysRemoved: Set<HTTPField.Name> = [
        .connection, HTTPField.Name("Keep-Alive")!, HTTPField.Name("Proxy-Connection")!, .te, .trailer,
        .transferEncoding, .upgrade, .proxyAuthorization, .proxyAuthenticate,
    ]

    /// The field names a message's `Connection` values list (RFC 9110 section 7.6.1: they are hop-by-hop too).
    public static func connectionOptions(in fields: HTTPFields) -> [HTTPField.Name] {
        var names: [HTTPField.Name] = []
        for field in fields where field.name == .connection {
            Self.appendOptions(of: field.value, to: &names)
        }
        return names
    }

    /// The same for `Connection` values given as text.
    public static func connectionOptions(_ values: [String]) -> [HTTPField.Name] {
        var names: [HTTPField.Name] = []
        for value in values {
            Self.appendOptions(of: value, to: &names)
        }
        return names
    }

    /// Appends the names one `Connection` value lists. `keep-alive` and `close`, nearly every value there is, are
    /// left out: `Keep-Alive` is always removed anyway, and no field is called `close`.
    private static func appendOptions(of value: String, to names: inout [HTTPField.Name]) {
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: ",") { end += 1 }
                let option = UnsafeBufferPointer(rebasing: HTTPSyntax.trimmingWhitespace(bytes[start..<end]))
                start = end + 1
                if option.isEmpty || HTTPSyntax.equalsIgnoringCase(option, "keep-alive")
                    || HTTPSyntax.equalsIgnoringCase(option, "close")
                {
                    continue
                }
                if let name = HTTPField.Name(String(decoding: option, as: UTF8.self)) { names.append(name) }
            }
        }
    }

    /// Whether a field is not forwarded (RFC 9110 section 7.6.1): one of ``alwaysRemoved``, or named in `Connection`
    /// (`connectionOptions`, from ``connectionOptions(in:)``). Both directions leave such fields out as they copy the
    /// others, before the gateway adds its own, so `Connection: X-Request-ID` cannot remove those.
    public static func isHopByHop(_ name: HTTPField.Name, connectionOptions: [HTTPField.Name]) -> Bool {
        Self.isAlwaysRemoved(name) || connectionOptions.contains(name)
    }

    /// Whether `name` is one of ``alwaysRemoved`` (the same list, kept equal by `HeaderPolicyTests`): a switch over
    /// the canonical names is about 1.5× faster than hashing into the set or searching an array of names
    /// (CoreBenchmarks' hop-by-hop check, 20 fields).
    public static func isAlwaysRemoved(_ name: HTTPField.Name) -> Bool {
        switch name.canonicalName {
        case "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
            "proxy-authorization", "proxy-authenticate":
            return true
        default:
            return false
        }
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs (HTTP's optional whitespace).
    package func trimmingASCIIWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
