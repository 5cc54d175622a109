import HTTPTypes

/// The field names upstreams send on nearly every response, each made once, so the response-head parser reuses them
/// instead of making, validating and lower-casing a new name for every line.
///
/// A line's name is matched byte for byte against two spellings of each: the usual one (`Content-Type`) and the
/// lower-case one (`content-type`, as HTTP/2 and many frameworks send it). So a name found here keeps exactly the
/// spelling the upstream used; any other spelling, or any other name, is made as before.
enum CommonFieldNames {
    /// Names in their usual spelling; the table holds them and their lower-case spelling.
    static let spellings: [String] = [
        "Server", "Date", "Content-Type", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding",
        "Content-Encoding", "Last-Modified", "ETag", "Accept-Ranges", "Cache-Control", "Vary", "Expires", "Pragma",
        "Age", "Via", "Location", "Set-Cookie", "Retry-After", "WWW-Authenticate", "Content-Language",
        "Content-Disposition", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
        "Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "X-XSS-Protection", "X-Powered-By",
        "X-Request-Id", "X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
        "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "RateLimit",
        "Content-Security-Policy", "Referrer-Policy", "Alt-Svc", "Link", "Traceparent",
    ]

    /// The longest name in the table; longer lines are never looked up.
    private static let maximumLength = 40

    /// Entries by name length: the name's bytes and the name made from them.
    private static let table: [[(bytes: [UInt8], name: HTTPField.Name)]] = {
        var table = [[(bytes: [UInt8], name: HTTPField.Name)]](repeating: [], count: maximumLength + 1)
        for spelling in spellings {
            for form in Set([spelling, spelling.lowercased()]) {
                let bytes = Array(form.utf8)
                precondition(bytes.count <= maximumLength, "raise CommonFieldNames.maximumLength for \(form)")
                guard let name = HTTPField.Name(form) else { preconditionFailure("not a field name: \(form)") }
                if !table[bytes.count].contains(where: { $0.bytes == bytes }) {
                    table[bytes.count].append((bytes, name))
                }
            }
        }
        return table
    }()

    /// The made name spelled exactly as `bytes`, or nil when it is not in the table.
    static func name(_ bytes: UnsafeRawBufferPointer) -> HTTPField.Name? {
        guard bytes.count <= Self.maximumLength else { return nil }
        for entry in Self.table[bytes.count] {
            if entry.bytes.withUnsafeBytes({ $0.elementsEqual(bytes) }) { return entry.name }
        }
        return nil
    }
}
