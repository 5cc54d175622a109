public import GatewayCore

/// Reads JSON text (RFC 8259) into a ``JSONValue``, defensively: error bodies come from anywhere.
///
/// The reader never traps on any input. It rejects, rather than guesses at, a truncated or malformed document
/// (the normalizer then builds the envelope from status and headers), limits nesting so that `[[[[…` cannot
/// exhaust the stack, and replaces invalid UTF-8 and lone surrogates with U+FFFD. No Foundation: this is on the
/// hot path of every rewritten error.
public enum JSONReader {
    /// The deepest nesting of arrays and objects accepted.
    public static let defaultMaximumDepth = 64

    /// The value of a complete JSON document (whitespace and a UTF-8 byte order mark around it allowed), or nil.
    public static func parse(_ bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth) -> JSONValue? {
        bytes.withUnsafeBufferPointer { Self.parse($0, maximumDepth: maximumDepth) }
    }

    /// The value of a complete JSON document in `buffer`, or nil.
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>, maximumDepth: Int = defaultMaximumDepth)
        -> JSONValue?
    {
        var parser = JSONParser(bytes: buffer, maximumDepth: maximumDepth)
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { parser.index = 3 }
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipWhitespace()
        return parser.index == buffer.count ? value : nil
    }
}

/// The recursive-descent state of one ``JSONReader/parse(_:maximumDepth:)`` call.
private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maximumDepth: Int
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) -> JSONValue? {
        self.skipWhitespace()
        guard self.index < self.bytes.count else { return nil }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"):
            guard depth < self.maximumDepth else { return nil }
            return self.object(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < self.maximumDepth else { return nil }
            return self.array(depth: depth + 1)
        case UInt8(ascii: "\""):
            return self.string().map { .string($0) }
        case UInt8(ascii: "t"):
            return self.literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"):
            return self.literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"):
            return self.literal("null") ? .null : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return self.number()
        default:
            return nil
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let length = word.utf8CodeUnitCount
        guard self.bytes.count - self.index >= length else { return false }
        let start = word.utf8Start
        for offset in 0..<length where self.bytes[self.index + offset] != start[offset] { return false }
        self.index += length
        return true
    }

    private mutating func object(depth: Int) -> JSONValue? {
        self.index += 1
        var members: [(key: String, value: JSONValue)] = []
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "}") {
            self.index += 1
            return .object(members)
        }
        while true {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\""),
                let key = self.string()
            else { return nil }
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else { return nil }
            self.index += 1
            guard let value = self.value(depth: depth) else { return nil }
            members.append((key: key, value: value))
            self.skipWhitespace()
            guard self.index < self.bytes.count else { return nil }
            switch self.bytes[self.index] {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "}"):
                self.index += 1
                return .object(members)
            default: return nil
            }
        }
    }

    private mutating func array(depth: Int) -> JSONValue? {
        self.index += 1
        var items: [JSONValue] = []
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "]") {
            self.index += 1
            return .array(items)
        }
        while true {
            guard let item = self.value(depth: depth) else { return nil }
            items.append(item)
            self.skipWhitespace()
            guard self.index < self.bytes.count else { return nil }
            switch self.bytes[self.index] {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "]"):
                self.index += 1
                return .array(items)
            default: return nil
            }
        }
    }

    private mutating func digits() -> Int {
        let start = self.index
        while self.index < self.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index]) {
            self.index += 1
        }
        return self.index - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as text.
    private mutating func number() -> JSONValue? {
        let start = self.index
        if self.bytes[self.index] == UInt8(ascii: "-") { self.index += 1 }
        guard self.index < self.bytes.count else { return nil }
        if self.bytes[self.index] == UInt8(ascii: "0") {
            self.index += 1
        } else if self.digits() == 0 {
            return nil
        }
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ".") {
            self.index += 1
            guard self.digits() > 0 else { return nil }
        }
        if self.index < self.bytes.count, self.bytes[self.index] | 0x20 == UInt8(ascii: "e") {
            self.index += 1
            if self.index < self.bytes.count,
                self.bytes[self.index] == UInt8(ascii: "+") || self.bytes[self.index] == UInt8(ascii: "-")
            {
                self.index += 1
            }
            guard self.digits() > 0 else { return nil }
        }
        return .number(String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self))
    }

    private mutating func hex4() -> UInt32? {
        guard self.bytes.count - self.index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }

    /// A string starting at the opening quote; invalid UTF-8 and lone surrogates become U+FFFD.
    mutating func string() -> String? {
        self.index += 1
        let start = self.index
        // Fast path: no escapes. The string's end (or its first escape, or a control byte) is found eight bytes at a
        // time.
        self.index = JSONByteScan.firstStringSpecial(in: self.bytes, from: self.index)
        if self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                let text = String(
                    decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
                self.index += 1
                return text
            }
            if byte < 0x20 { return nil }
        }
        guard self.index < self.bytes.count else { return nil }
        var scratch = [UInt8](UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]))
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            switch byte {
            case UInt8(ascii: "\""):
                self.index += 1
                return String(decoding: scratch, as: UTF8.self)
            case UInt8(ascii: "\\"):
                self.index += 1
                guard self.index < self.bytes.count else { return nil }
                let escape = self.bytes[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(escape)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    guard let unit = self.hex4() else { return nil }
                    var scalar = unit
                    if (0xD800..<0xDC00).contains(unit) {
                        scalar = 0xFFFD
                        if self.bytes.count - self.index >= 6, self.bytes[self.index] == UInt8(ascii: "\\"),
                            self.bytes[self.index + 1] == UInt8(ascii: "u")
                        {
                            let save = self.index
                            self.index += 2
                            if let low = self.hex4(), (0xDC00..<0xE000).contains(low) {
                                scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                self.index = save
                            }
                        }
                    } else if (0xDC00..<0xE000).contains(unit) {
                        scalar = 0xFFFD
                    }
                    Self.appendUTF8(scalar, to: &scratch)
                default:
                    return nil
                }
            case 0x00..<0x20:
                return nil
            default:
                scratch.append(byte)
                self.index += 1
            }
        }
        return nil
    }

    static func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            bytes.append(UInt8(scalar))
        case 0x80..<0x800:
            bytes.append(UInt8(0xC0 | scalar >> 6))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            bytes.append(UInt8(0xE0 | scalar >> 12))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        default:
            bytes.append(UInt8(0xF0 | scalar >> 18))
            bytes.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}

extension JSONValue {
    /// The items, if this is an array.
    var arrayItems: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// The members, if this is an object.
    var objectMembers: [(key: String, value: JSONValue)]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// A string, or a number's text: vendors send codes as either.
    var scalarText: String? {
        switch self {
        case .string(let text): return text
        case .number(let text): return text
        default: return nil
        }
    }

    /// A non-empty string.
    var nonEmptyString: String? {
        if case .string(let text) = self, !text.isEmpty { return text }
        return nil
    }

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// An RFC 6901 reference token with `~1` read as `/` and `~0` as `~`.
    static func unescapePointerToken(_ token: Substring) -> String {
        guard token.contains("~") else { return String(token) }
        var result = ""
        var iterator = token.makeIterator()
        while let character = iterator.next() {
            guard character == "~" else {
                result.append(character)
                continue
            }
            switch iterator.next() {
            case "1": result.append("/")
            case "0": result.append("~")
            case let other?:
                result.append("~")
                result.append(other)
            case nil: result.append("~")
            }
        }
        return result
    }

    /// The value an RFC 6901 JSON Pointer (`/a/0/b`, with `~1` for `/` and `~0` for `~`) designates, or nil.
    func resolve(pointer: String) -> JSONValue? {
        var pointer = Substring(pointer)
        if pointer.hasPrefix("#") { pointer = pointer.dropFirst() }
        if pointer.isEmpty { return self }
        guard pointer.hasPrefix("/") else { return nil }
        var current = self
        for rawToken in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = Self.unescapePointerToken(rawToken)
            switch current {
            case .object:
                guard let next = current[token] else { return nil }
                current = next
            case .array(let items):
                guard let position = Int(token), items.indices.contains(position) else { return nil }
                current = items[position]
            default:
                return nil
            }
        }
        return current
    }
}
