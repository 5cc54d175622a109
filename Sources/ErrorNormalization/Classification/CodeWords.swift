/// Splits vendors' codes and messages into lowercase words, so that one vocabulary entry meets every spelling:
/// `ResourceNotFoundException`, `resource_not_found`, `RESOURCE-NOT-FOUND` and "Resource not found" all give
/// `resource`, `not`, `found`.
///
/// Words break at every character that is not an ASCII letter or digit, between a lowercase letter and an
/// uppercase one (`notFound`), before the last capital of a run followed by a lowercase letter (`APIKey` → `api`,
/// `key`), and between letters and digits (`v2beta` → `v`, `2`, `beta`). Non-ASCII text is a separator: the
/// vocabulary is English.
enum CodeWords {
    /// At most this many words are taken from one text (a message can be long; its meaning is at the start).
    static let maximumWords = 64

    static func words(_ text: String) -> [Substring] {
        // One lowercase copy, sliced: cheaper than a String per word. Breaks fall on ASCII bytes, so every offset
        // is a scalar boundary of `lowered`.
        let lowered = Self.lowercasedASCII(text)
        let utf8 = lowered.utf8
        var words: [Substring] = []
        var start: Int?
        var previous = Kind.other
        var position = utf8.startIndex
        var offset = 0
        func word(_ begin: Int, _ end: Int) -> Substring {
            let from = utf8.index(utf8.startIndex, offsetBy: begin)
            return lowered[from..<utf8.index(from, offsetBy: end - begin)]
        }
        let original = Array(text.utf8)
        while position != utf8.endIndex, words.count < Self.maximumWords {
            let kind = Self.kind(original[offset])
            if kind == .other {
                if let begin = start { words.append(word(begin, offset)) }
                start = nil
            } else if let begin = start {
                let next = offset + 1 < original.count ? Self.kind(original[offset + 1]) : .other
                let breaks =
                    (previous == .lower && kind == .upper)
                    || (previous == .upper && kind == .upper && next == .lower)
                    || (previous == .digit) != (kind == .digit)
                if breaks {
                    words.append(word(begin, offset))
                    start = offset
                }
            } else {
                start = offset
            }
            previous = kind
            position = utf8.index(after: position)
            offset += 1
        }
        if let begin = start, words.count < Self.maximumWords { words.append(word(begin, offset)) }
        return words
    }

    private enum Kind { case lower, upper, digit, other }

    private static func kind(_ byte: UInt8) -> Kind {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return .lower
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return .upper
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .digit
        default: return .other
        }
    }

    /// The text with ASCII capitals lowered; other bytes as they are (same UTF-8 length, same offsets).
    static func lowercasedASCII(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { return text }
        return String(unsafeUninitializedCapacity: text.utf8.count) { buffer in
            var count = 0
            for byte in text.utf8 {
                buffer[count] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                count += 1
            }
            return count
        }
    }
}
