/// Makes vendor text safe to show: control characters removed, whitespace runs collapsed, length capped on a
/// UTF-8 boundary.
enum TextSanitizer {
    /// The cap on `detail` and `errors[].detail` (1 KiB of UTF-8).
    static let maximumDetailBytes = 1024
    /// The cap on short members: field names, codes, suggestions.
    static let maximumShortBytes = 256

    /// `text` without C0/C1 control characters (tabs and line breaks become spaces), trimmed, at most
    /// `maximumBytes` of UTF-8, or nil when nothing is left.
    static func clean(_ text: String, maximumBytes: Int = maximumDetailBytes) -> String? {
        var needsWork = text.utf8.count > maximumBytes
        if !needsWork {
            func hasControl(_ bytes: some Sequence<UInt8>) -> Bool {
                bytes.contains { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 }
            }
            // Over contiguous storage (a native string's) the scan is a tight loop; else byte by byte.
            needsWork = text.utf8.withContiguousStorageIfAvailable { hasControl($0) } ?? hasControl(text.utf8)
            if !needsWork, let first = text.utf8.first, let last = text.utf8.last,
                first != 0x20, last != 0x20
            {
                return text
            }
        }
        var result = ""
        result.reserveCapacity(min(text.utf8.count, maximumBytes))
        var pendingSpace = false
        var length = 0
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value == 0x09 || value == 0x0A || value == 0x0D || value == 0x20 {
                pendingSpace = !result.isEmpty
                continue
            }
            if value < 0x20 || (0x7F...0x9F).contains(value) { continue }
            let width = (pendingSpace ? 1 : 0) + UTF8.width(scalar)
            if length + width > maximumBytes { break }
            if pendingSpace { result.append(" ") }
            pendingSpace = false
            result.unicodeScalars.append(scalar)
            length += width
        }
        return result.isEmpty ? nil : result
    }

    /// The longest prefix of at most `maximumBytes` bytes that does not end inside a UTF-8 sequence.
    static func scalarAlignedPrefix(_ bytes: ArraySlice<UInt8>, maximumBytes: Int) -> ArraySlice<UInt8> {
        guard bytes.count > maximumBytes else { return bytes }
        var end = bytes.startIndex + maximumBytes
        // Back off continuation bytes, then the lead byte of the cut sequence.
        var back = 0
        while end > bytes.startIndex, back < 4, bytes[end] & 0xC0 == 0x80 {
            end -= 1
            back += 1
        }
        return bytes[bytes.startIndex..<end]
    }
}
