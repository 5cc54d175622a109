import GatewayCore
import Testing

/// The word-at-a-time scans find what a byte-by-byte scan finds, at every position and alignment, for every byte
/// value; and strings written through them are escaped exactly as before.
@Suite("JSON byte scans")
struct JSONByteScanTests {
    /// The byte-by-byte answer the scans must give.
    private func reference(_ bytes: [UInt8], from start: Int, _ isMatch: (UInt8) -> Bool) -> Int {
        var index = start
        while index < bytes.count, !isMatch(bytes[index]) { index += 1 }
        return index
    }

    /// Both scans give the byte-by-byte answer for `bytes` from `start`.
    private func expectAgreement(_ bytes: [UInt8], from start: Int) {
        bytes.withUnsafeBufferPointer { buffer in
            #expect(
                JSONByteScan.firstStringSpecial(in: buffer, from: start)
                    == self.reference(bytes, from: start, JSONByteScan.isStringSpecial), "\(bytes) from \(start)")
            #expect(
                JSONByteScan.firstNeedingEscape(in: buffer, from: start)
                    == self.reference(bytes, from: start, JSONByteScan.needsEscape), "\(bytes) from \(start)")
        }
    }

    @Test func everyByteValueAtEveryPositionAndAlignment() {
        for value in 0...255 {
            for length in [1, 7, 8, 9, 15, 16, 17, 33] {
                for position in 0..<length {
                    var bytes = [UInt8](repeating: UInt8(ascii: "x"), count: length)
                    bytes[position] = UInt8(value)
                    for start in [0, 1, 3, position, min(position + 1, length)] where start <= length {
                        self.expectAgreement(bytes, from: start)
                    }
                }
            }
        }
    }

    @Test func randomBuffersAgreeWithTheReference() {
        var generator = SystemRandomNumberGenerator()
        // Mostly plain text, with the bytes the scans look for (and UTF-8 lead and continuation bytes) mixed in.
        let palette: [UInt8] =
            Array("abcXYZ09 .,;:/".utf8) + [0x22, 0x5C, 0x3C, 0x3E, 0x26, 0x7F, 0x00, 0x09, 0x0A, 0x1F]
            + [0xC3, 0xA9, 0xE2, 0x80, 0xA8, 0xF0, 0x9F, 0x98, 0x80, 0xFF]
        for _ in 0..<2000 {
            let length = Int.random(in: 0...80, using: &generator)
            let bytes = (0..<length).map { _ -> UInt8 in
                Int.random(in: 0..<10, using: &generator) == 0
                    ? palette.randomElement(using: &generator)! : UInt8(ascii: "m")
            }
            self.expectAgreement(bytes, from: Int.random(in: 0...length, using: &generator))
        }
    }

    @Test func emptyBufferAndStartAtTheEnd() {
        let empty: [UInt8] = []
        empty.withUnsafeBufferPointer { buffer in
            #expect(JSONByteScan.firstStringSpecial(in: buffer, from: 0) == 0)
            #expect(JSONByteScan.firstNeedingEscape(in: buffer, from: 0) == 0)
        }
        let text = Array("0123456789abcdef\"".utf8)
        text.withUnsafeBufferPointer { buffer in
            #expect(JSONByteScan.firstStringSpecial(in: buffer, from: text.count) == text.count)
            #expect(JSONByteScan.firstStringSpecial(in: buffer, from: 0) == 16)
        }
    }

    @Test func writerEscapesLongAndShortStrings() {
        let long = String(repeating: "plain text without specials ", count: 20)
        let cases: [(String, String)] = [
            ("", #""""#),
            ("abc", #""abc""#),
            (long, "\"\(long)\""),
            (long + "\"" + long, "\"\(long)\\\"\(long)\""),
            ("tab\there, newline\n, bell\u{07}, del\u{7F}", #""tab\there, newline\n, bell\u0007, del\u007f""#),
            ("<script>&amp;</script> \\ end", #""\u003cscript\u003e\u0026amp;\u003c/script\u003e \\ end""#),
            ("é — 😀 \u{2028}", "\"é — 😀 \u{2028}\""),
            ("12345678\"12345678\\", #""12345678\"12345678\\""#),
        ]
        for (text, expected) in cases {
            var writer = JSONWriter()
            writer.string(text)
            #expect(String(decoding: writer.bytes, as: UTF8.self) == expected, "\(text)")
        }
    }
}
