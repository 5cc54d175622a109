/// Finds the next byte of a JSON string that needs attention, eight bytes at a time.
///
/// Reading a string and writing one both walk its bytes looking for a few values (a quote, a backslash, a control
/// byte…); nearly every byte is none of them. Each eight-byte word is tested for all of them at once with the
/// classic word-at-a-time checks (a byte equal to `c` is a zero byte of `word ^ c×0x01…01`; a zero byte, or one below
/// `n`, sets its high bit in `(word - n×0x01…01) & ~word & 0x80…80`), which are exact for the word as a whole; only a
/// word that holds such a byte is looked at byte by byte.
public enum JSONByteScan {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// The index of the first byte at or after `start` that ends or interrupts a JSON string being read: `"`, `\`,
    /// or a control byte (below 0x20). `bytes.count` when there is none.
    public static func firstStringSpecial(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        Self.firstIndex(in: bytes, from: start, wordMayHold: Self.mayHoldStringSpecial, isMatch: Self.isStringSpecial)
    }

    /// The index of the first byte at or after `start` that a JSON string being written escapes: `"`, `\`, a control
    /// byte, DEL, and `<`, `>`, `&` (so a document is safe inside HTML). `bytes.count` when there is none.
    public static func firstNeedingEscape(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        Self.firstIndex(in: bytes, from: start, wordMayHold: Self.mayHoldEscaped, isMatch: Self.needsEscape)
    }

    /// Whether `byte` is one ``firstStringSpecial(in:from:)`` stops at.
    public static func isStringSpecial(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20
    }

    /// Whether `byte` is one ``firstNeedingEscape(in:from:)`` stops at.
    public static func needsEscape(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x00..<0x20, 0x7F, UInt8(ascii: "<"), UInt8(ascii: ">"),
            UInt8(ascii: "&"):
            return true
        default:
            return false
        }
    }

    @inline(__always)
    private static func firstIndex(
        in bytes: UnsafeBufferPointer<UInt8>, from start: Int, wordMayHold: (UInt64) -> Bool,
        isMatch: (UInt8) -> Bool
    ) -> Int {
        var index = max(start, 0)
        let count = bytes.count
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            while index + 8 <= count {
                let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                if wordMayHold(word) { break }
                index += 8
            }
        }
        while index < count, !isMatch(bytes[index]) {
            index += 1
        }
        return index
    }

    /// Whether some byte of `word` is zero.
    @inline(__always)
    private static func hasZeroByte(_ word: UInt64) -> Bool {
        (word &- Self.ones) & ~word & Self.highBits != 0
    }

    /// Whether some byte of `word` equals `byte`.
    @inline(__always)
    private static func has(_ byte: UInt8, in word: UInt64) -> Bool {
        Self.hasZeroByte(word ^ (Self.ones &* UInt64(byte)))
    }

    /// Whether some byte of `word` is below `limit` (at most 0x80).
    @inline(__always)
    private static func hasByteBelow(_ limit: UInt8, in word: UInt64) -> Bool {
        (word &- Self.ones &* UInt64(limit)) & ~word & Self.highBits != 0
    }

    @inline(__always)
    private static func mayHoldStringSpecial(_ word: UInt64) -> Bool {
        Self.hasByteBelow(0x20, in: word) || Self.has(UInt8(ascii: "\""), in: word)
            || Self.has(UInt8(ascii: "\\"), in: word)
    }

    @inline(__always)
    private static func mayHoldEscaped(_ word: UInt64) -> Bool {
        Self.hasByteBelow(0x20, in: word) || Self.has(UInt8(ascii: "\""), in: word)
            || Self.has(UInt8(ascii: "\\"), in: word) || Self.has(0x7F, in: word)
            || Self.has(UInt8(ascii: "<"), in: word) || Self.has(UInt8(ascii: ">"), in: word)
            || Self.has(UInt8(ascii: "&"), in: word)
    }
}
