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
        var named: [HTTPField.Name] = []
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") {
                let trimmed = token.trimmingASCIIWhitespace()
                if let name = HTTPField.Name(String(trimmed)) { named.append(name) }
            }
        }
        let hasAny = !named.isEmpty || fields.contains { Self.alwaysRemoved.contains($0.name) }
        guard hasAny else { return }
        var kept = HTTPFields()
        kept.reserveCapacity(fields.count)
        for field in fields where !Self.alwaysRemoved.contains(field.name) && !named.contains(field.name) {
            kept.append(field)
        }
        fields = kept
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
