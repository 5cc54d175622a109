/// The byte-level rules of HTTP field syntax (RFC 9110 section 5), shared by every place that reads or writes a head
/// without making strings: the listener's validator and serializer, the upstream head parser, the hop-by-hop policy.
///
/// `@inlinable`, so each caller gets them specialized and inlined across the module boundary.
public enum HTTPSyntax {
    /// tchar of RFC 9110 section 5.6.2: the bytes of a token, such as a field name.
    @inlinable
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// field-vchar / SP / HTAB of RFC 9110 section 5.5 (obs-text allowed): no CR, LF, NUL, DEL or other controls.
    @inlinable
    public static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F)
    }

    /// OWS of RFC 9110 section 5.6.3: a space or a horizontal tab.
    @inlinable
    public static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// `bytes` without the whitespace (``isWhitespace(_:)``) they begin and end with; the slice keeps `bytes`'
    /// indices.
    @inlinable
    public static func trimmingWhitespace(
        _ bytes: Slice<UnsafeBufferPointer<UInt8>>
    ) -> Slice<UnsafeBufferPointer<UInt8>> {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, Self.isWhitespace(bytes[start]) { start += 1 }
        while end > start, Self.isWhitespace(bytes[end - 1]) { end -= 1 }
        return bytes[start..<end]
    }

    /// Whether `bytes` spell `lowercase` in any ASCII case (field names and tokens are ASCII), without making a
    /// string.
    @inlinable
    public static func equalsIgnoringCase<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        var index = 0
        for byte in bytes {
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            if folded != expected[index] { return false }
            index += 1
        }
        return true
    }
}
