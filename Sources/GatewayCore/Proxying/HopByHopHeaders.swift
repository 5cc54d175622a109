public import HTTPTypes

/// The hop-by-hop header policy of RFC 9110 section 7.6.1, applied in both directions (SPEC section 5).
public enum HopByHopHeaders {
    /// Headers that are never forwarded, whatever `Connection` says.
    public static let alwaysRemoved: Set<HTTPField.Name> = [
        .connection, HTTPField.Name("Keep-Alive")!, HTTPField.Name("Proxy-Connection")!, .te, .trailer,
        .transferEncoding, .upgrade, .proxyAuthorization, .proxyAuthenticate,
    ]

    /// Removes every hop-by-hop field from `fields`, including those named in `Connection`.
    ///
    /// Called before the gateway adds its own headers, so `Connection: X-Request-ID` cannot remove them.
    public static func remove(from fields: inout HTTPFields) {
        // Without looking fields up by name (that would build the fields' name index) or hashing names.
        let named = Self.connectionOptions(in: fields)
        guard fields.contains(where: { Self.isHopByHop($0.name, connectionOptions: named) }) else { return }
        var kept = HTTPFields()
        kept.reserveCapacity(fields.count)
        for field in fields where !Self.isHopByHop(field.name, connectionOptions: named) {
            kept.append(field)
        }
        fields = kept
    }

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
        for token in value.utf8.split(separator: UInt8(ascii: ",")) {
            let option = Substring(token).trimmingASCIIWhitespace()
            if option.utf8.count == 10, option.lowercased() == "keep-alive" { continue }
            if option.utf8.count == 5, option.lowercased() == "close" { continue }
            if let name = HTTPField.Name(String(option)) { names.append(name) }
        }
    }

    /// Whether a field is not forwarded: one of ``alwaysRemoved``, or named in `Connection` (`connectionOptions`,
    /// from ``connectionOptions(_:)``).
    public static func isHopByHop(_ name: HTTPField.Name, connectionOptions: [HTTPField.Name]) -> Bool {
        Self.isAlwaysRemoved(name) || connectionOptions.contains(name)
    }

    /// Whether `name` is one of ``alwaysRemoved``, told by comparing canonical names (short strings), not hashing.
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
