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
        // One pass, without looking fields up by name (that would build the fields' name index) or hashing names:
        // most messages have nothing to remove.
        var named: [HTTPField.Name] = []
        var hasAny = false
        for field in fields where Self.isAlwaysRemoved(field.name) {
            hasAny = true
            guard field.name == .connection else { continue }
            for token in field.value.split(separator: ",") {
                let trimmed = token.trimmingASCIIWhitespace()
                if let name = HTTPField.Name(String(trimmed)) { named.append(name) }
            }
        }
        guard hasAny else { return }
        var kept = HTTPFields()
        kept.reserveCapacity(fields.count)
        for field in fields where !Self.isAlwaysRemoved(field.name) && !named.contains(field.name) {
            kept.append(field)
        }
        fields = kept
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
