/// A JSON value, as carried in the envelope's `params` members and produced by the normalizer's JSON reader.
///
/// Numbers keep their source text so that a vendor's `12345678901234567890` or `1.50` reaches the client exactly
/// as the vendor wrote it. Objects keep member order (a vendor's field order is usually the form's order).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number, kept as its JSON text.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// An object as ordered members; a repeated key keeps every occurrence.
    case object([(key: String, value: JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .number(let n): hasher.combine(n)
        case .string(let s): hasher.combine(s)
        case .array(let a): hasher.combine(a)
        case .object(let members):
            for member in members {
                hasher.combine(member.key)
                hasher.combine(member.value)
            }
        }
    }

    /// The member named `key` of an object (the first, if repeated), or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }

    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// Appends JSON text to a byte buffer: the one place that escapes strings for every document the gateway writes.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 512) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
    }

    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { self.bytes.append(contentsOf: $0) }
    }

    public mutating func raw(_ text: String) {
        self.bytes.append(contentsOf: text.utf8)
    }

    /// Writes `text` as a JSON string literal (RFC 8259 section 7), escaping quotes, backslashes and every
    /// control character, and `<`, `>`, `&` so the document is safe to embed in HTML.
    public mutating func string(_ text: String) {
        self.bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Runs of bytes that need no escaping are found eight bytes at a time and appended in one go.
            var runStart = 0
            var index = JSONByteScan.firstNeedingEscape(in: utf8, from: 0)
            while index < utf8.count {
                if runStart < index {
                    self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                }
                self.escape(utf8[index])
                runStart = index + 1
                index = JSONByteScan.firstNeedingEscape(in: utf8, from: runStart)
            }
            if runStart < utf8.count {
                self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
            }
        }
        self.bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): self.raw("\\\"")
        case UInt8(ascii: "\\"): self.raw("\\\\")
        case 0x0A: self.raw("\\n")
        case 0x0D: self.raw("\\r")
        case 0x09: self.raw("\\t")
        default:
            let hex: StaticString = "0123456789abcdef"
            self.raw("\\u00")
            hex.withUTF8Buffer { digits in
                self.bytes.append(digits[Int(byte >> 4)])
                self.bytes.append(digits[Int(byte & 0x0F)])
            }
        }
    }

    public mutating func int(_ value: Int) {
        self.raw(String(value))
    }

    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: self.raw("null")
        case .bool(let b): self.raw(b ? "true" : "false")
        case .number(let n): self.raw(n)
        case .string(let s): self.string(s)
        case .array(let items):
            self.bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { self.bytes.append(UInt8(ascii: ",")) }
                self.value(item)
            }
            self.bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            self.bytes.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { self.bytes.append(UInt8(ascii: ",")) }
                self.string(member.key)
                self.bytes.append(UInt8(ascii: ":"))
                self.value(member.value)
            }
            self.bytes.append(UInt8(ascii: "}"))
        }
    }
}
