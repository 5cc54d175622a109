import GatewayCore

/// Bodies that are not structured: HTML error pages (their `<title>` or first `<h1>`, never markup) and plain
/// text (its first non-empty line).
enum TextDialect {
    static let name = "text"
    static let summary = "HTML error pages (title only, never markup) and plain text (first line)"
    /// Plain-text messages are cut to this many characters before the general 1 KiB cap.
    static let maximumLineLength = 300

    static func readHTML(_ scanner: MarkupScanner) -> VendorError? {
        guard let title = scanner.text(ofElement: "title") ?? scanner.text(ofElement: "h1") else { return nil }
        return VendorError(dialectName: Self.name, message: title)
    }

    /// The first non-empty line, or nil when the bytes do not look like text (binary garbage).
    static func readPlain(_ bytes: [UInt8]) -> VendorError? {
        guard Self.looksLikeText(bytes) else { return nil }
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A, bytes[lineEnd] != 0x0D { lineEnd += 1 }
            let line = String(decoding: bytes[lineStart..<lineEnd], as: UTF8.self)
            let trimmed = line.drop(while: { $0.isWhitespace })
            if !trimmed.isEmpty {
                var text = String(trimmed.prefix(Self.maximumLineLength))
                while text.last?.isWhitespace == true { text.removeLast() }
                return VendorError(dialectName: Self.name, message: text)
            }
            lineStart = lineEnd + 1
        }
        return nil
    }

    /// No NUL, valid UTF-8 and few control characters in the first 512 bytes.
    static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        let sample = TextSanitizer.scalarAlignedPrefix(bytes[...], maximumBytes: 512)
        var controls = 0
        for byte in sample {
            if byte == 0 { return false }
            if byte < 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D { controls += 1 }
        }
        guard controls * 20 <= sample.count else { return false }
        var iterator = sample.makeIterator()
        var decoder = UTF8()
        var decoded = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: decoded += 1
            case .emptyInput: return decoded > 0
            case .error: return false
            }
        }
    }
}
