/// A tolerant scanner for the few elements the normalizer reads from XML and HTML error bodies.
///
/// It is not a parser: it finds the first element with a given local name (any namespace prefix, ASCII
/// case-insensitive) and returns its text with nested tags, comments and `<script>`/`<style>` content removed,
/// CDATA kept and the common entities decoded. Malformed markup yields nil or less text, never a trap.
struct MarkupScanner {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The text of the first element named `name` (local name), or nil.
    func text(ofElement name: String, from start: Int = 0) -> String? {
        guard let (contentStart, contentEnd) = self.element(named: name, from: start) else { return nil }
        return Self.plainText(self.bytes[contentStart..<contentEnd])
    }

    /// The byte range of the content of the first element named `name`.
    func element(named name: String, from start: Int = 0) -> (Int, Int)? {
        let name = Array(name.lowercased().utf8)
        var index = start
        while let open = self.nextTag(from: index) {
            index = open.end
            guard !open.isClosing, open.localName == name else { continue }
            if open.isSelfClosing { return (open.end, open.end) }
            var depth = 1
            var cursor = open.end
            while let tag = self.nextTag(from: cursor) {
                cursor = tag.end
                guard tag.localName == name, !tag.isSelfClosing else { continue }
                depth += tag.isClosing ? -1 : 1
                if depth == 0 { return (open.end, tag.start) }
            }
            return (open.end, self.bytes.count)
        }
        return nil
    }

    /// The value of attribute `attribute` on the first element named `name` (`<Error code="2500">`), or nil.
    func attribute(_ attribute: String, ofElement name: String) -> String? {
        let name = Array(name.lowercased().utf8)
        let wanted = Array(attribute.lowercased().utf8)
        var index = 0
        while let open = self.nextTag(from: index) {
            index = open.end
            guard !open.isClosing, open.localName == name else { continue }
            let tag = self.bytes[open.start..<open.end]
            var cursor = tag.startIndex
            while cursor < tag.endIndex {
                // ` name="value"` or ` name='value'`, the name matched case-insensitively after white space.
                guard tag[cursor] == 0x20 || tag[cursor] == 0x09 || tag[cursor] == 0x0A else {
                    cursor += 1
                    continue
                }
                let nameStart = cursor + 1
                var nameEnd = nameStart
                while nameEnd < tag.endIndex, Self.isNameByte(tag[nameEnd]) { nameEnd += 1 }
                let found = tag[nameStart..<nameEnd].map { $0 | (($0 >= 0x41 && $0 <= 0x5A) ? 0x20 : 0) }
                guard found == wanted, nameEnd + 1 < tag.endIndex, tag[nameEnd] == UInt8(ascii: "="),
                    tag[nameEnd + 1] == UInt8(ascii: "\"") || tag[nameEnd + 1] == UInt8(ascii: "'")
                else {
                    cursor = max(nameEnd, cursor + 1)
                    continue
                }
                let quote = tag[nameEnd + 1]
                guard let close = tag[(nameEnd + 2)...].firstIndex(of: quote) else { return nil }
                return Self.plainText(tag[(nameEnd + 2)..<close])
            }
            return nil
        }
        return nil
    }

    private struct Tag {
        var start: Int
        var end: Int
        var localName: [UInt8]
        var isClosing: Bool
        var isSelfClosing: Bool
    }

    /// The next start or end tag at or after `index`, skipping comments, CDATA, declarations and processing
    /// instructions.
    private func nextTag(from index: Int) -> Tag? {
        var index = index
        let count = self.bytes.count
        while index < count {
            guard let open = self.firstIndex(of: UInt8(ascii: "<"), from: index) else { return nil }
            if self.hasPrefix("<!--", at: open) {
                index = self.indexAfter("-->", from: open + 4) ?? count
                continue
            }
            if self.hasPrefix("<![CDATA[", at: open) {
                index = self.indexAfter("]]>", from: open + 9) ?? count
                continue
            }
            if open + 1 < count, self.bytes[open + 1] == UInt8(ascii: "!") || self.bytes[open + 1] == UInt8(ascii: "?")
            {
                index = (self.firstIndex(of: UInt8(ascii: ">"), from: open) ?? count - 1) + 1
                continue
            }
            var cursor = open + 1
            let isClosing = cursor < count && self.bytes[cursor] == UInt8(ascii: "/")
            if isClosing { cursor += 1 }
            let nameStart = cursor
            while cursor < count, Self.isNameByte(self.bytes[cursor]) { cursor += 1 }
            guard cursor > nameStart else {
                index = open + 1
                continue
            }
            var name = self.bytes[nameStart..<cursor]
            if let colon = name.lastIndex(of: UInt8(ascii: ":")) { name = name[(colon + 1)...] }
            guard let close = self.firstIndex(of: UInt8(ascii: ">"), from: cursor) else { return nil }
            let isSelfClosing = close > 0 && self.bytes[close - 1] == UInt8(ascii: "/")
            return Tag(
                start: open, end: close + 1, localName: name.map { $0 | (($0 >= 0x41 && $0 <= 0x5A) ? 0x20 : 0) },
                isClosing: isClosing, isSelfClosing: isSelfClosing)
        }
        return nil
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "-"),
            UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    private func firstIndex(of byte: UInt8, from index: Int) -> Int? {
        var index = index
        while index < self.bytes.count {
            if self.bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    private func hasPrefix(_ prefix: StaticString, at index: Int) -> Bool {
        let length = prefix.utf8CodeUnitCount
        guard self.bytes.count - index >= length else { return false }
        for offset in 0..<length where self.bytes[index + offset] != prefix.utf8Start[offset] { return false }
        return true
    }

    private func indexAfter(_ terminator: StaticString, from index: Int) -> Int? {
        var index = index
        while index < self.bytes.count {
            if self.hasPrefix(terminator, at: index) { return index + terminator.utf8CodeUnitCount }
            index += 1
        }
        return nil
    }

    /// Text content: tags and comments dropped, `<script>`/`<style>` bodies dropped, CDATA kept, entities decoded,
    /// whitespace collapsed; any `<` or `>` left after decoding is removed so no markup is ever echoed.
    static func plainText(_ slice: ArraySlice<UInt8>) -> String? {
        var output: [UInt8] = []
        output.reserveCapacity(min(slice.count, 1024))
        var index = slice.startIndex
        let end = slice.endIndex
        func starts(_ text: StaticString, _ at: Int) -> Bool {
            let length = text.utf8CodeUnitCount
            guard end - at >= length else { return false }
            for offset in 0..<length {
                var byte = slice[at + offset]
                if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
                if byte != text.utf8Start[offset] { return false }
            }
            return true
        }
        func skip(past text: StaticString, from: Int) -> Int {
            var cursor = from
            while cursor < end {
                if starts(text, cursor) { return cursor + text.utf8CodeUnitCount }
                cursor += 1
            }
            return end
        }
        while index < end {
            let byte = slice[index]
            if byte == UInt8(ascii: "<") {
                if starts("<![cdata[", index) {
                    let contentStart = index + 9
                    let after = skip(past: "]]>", from: contentStart)
                    output.append(contentsOf: slice[contentStart..<max(contentStart, after - 3)])
                    index = after
                } else if starts("<!--", index) {
                    index = skip(past: "-->", from: index + 4)
                } else if starts("<script", index) {
                    index = skip(past: "</script>", from: index + 7)
                } else if starts("<style", index) {
                    index = skip(past: "</style>", from: index + 6)
                } else {
                    while index < end, slice[index] != UInt8(ascii: ">") { index += 1 }
                    index += 1
                    output.append(UInt8(ascii: " "))
                }
            } else if byte == UInt8(ascii: "&") {
                index = Self.decodeEntity(slice, at: index, into: &output)
            } else {
                output.append(byte)
                index += 1
            }
        }
        var text = ""
        var pendingSpace = false
        for scalar in String(decoding: output, as: UTF8.self).unicodeScalars {
            if scalar.properties.isWhitespace || scalar == "<" || scalar == ">" {
                pendingSpace = !text.isEmpty
                continue
            }
            if pendingSpace { text.append(" ") }
            pendingSpace = false
            text.unicodeScalars.append(scalar)
        }
        return text.isEmpty ? nil : text
    }

    /// Decodes `&amp; &lt; &gt; &quot; &apos; &nbsp; &#NN; &#xHH;` at `index`; returns the index after it.
    private static func decodeEntity(_ slice: ArraySlice<UInt8>, at index: Int, into output: inout [UInt8]) -> Int {
        var cursor = index + 1
        while cursor < slice.endIndex, cursor - index <= 10, slice[cursor] != UInt8(ascii: ";") { cursor += 1 }
        guard cursor < slice.endIndex, slice[cursor] == UInt8(ascii: ";") else {
            output.append(UInt8(ascii: "&"))
            return index + 1
        }
        let name = String(decoding: slice[(index + 1)..<cursor], as: UTF8.self)
        var scalar: UInt32?
        switch name {
        case "amp": scalar = 0x26
        case "lt": scalar = 0x3C
        case "gt": scalar = 0x3E
        case "quot": scalar = 0x22
        case "apos": scalar = 0x27
        case "nbsp": scalar = 0x20
        default:
            if name.hasPrefix("#x") || name.hasPrefix("#X") {
                scalar = UInt32(name.dropFirst(2), radix: 16)
            } else if name.hasPrefix("#") {
                scalar = UInt32(name.dropFirst())
            }
        }
        guard let value = scalar, let unicode = Unicode.Scalar(value), value != 0 else {
            output.append(UInt8(ascii: "&"))
            return index + 1
        }
        output.append(contentsOf: String(Character(unicode)).utf8)
        return cursor + 1
    }
}
