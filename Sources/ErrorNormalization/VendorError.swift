import GatewayCore

/// What a dialect read from a vendor's error body, before codes are mapped and exposure rules applied.
///
/// Dialects only extract; ``EnvelopeAssembler`` decides. That keeps each family's file about its shape and
/// nothing else.
struct VendorError: Sendable {
    /// One message about one field (or, when `field` is nil, one of several whole-error messages).
    struct FieldError: Sendable {
        var field: String?
        /// An explicit JSON Pointer (`/data/attributes/email`) when the vendor sent one; else derived from `field`.
        var pointer: String?
        var message: String
        var code: String?
        var params: [JSONValue]?
        /// False when `field` names a query, path or header parameter: it then gets no pointer into the body.
        var isBodyField = true

        init(
            field: String? = nil, pointer: String? = nil, message: String, code: String? = nil,
            params: [JSONValue]? = nil, isBodyField: Bool = true
        ) {
            self.isBodyField = isBodyField
            self.field = field
            self.pointer = pointer
            self.message = message
            self.code = code
            self.params = params
        }
    }

    /// The dialect (family, preset or `mapping`) that read the body.
    var dialectName: String
    /// The vendor's machine-readable code.
    var code: String?
    /// A second, coarser vendor code tried when `code` maps to nothing (Dokai's `type`, Stripe's `type`).
    var category: String?
    /// The vendor's message for the whole error.
    var message: String?
    var fieldErrors: [FieldError] = []
    var suggestions: [String]?
    var params: [JSONValue]?
    /// The canonical code the family's own vocabulary implies (Google status, OAuth2 error, GraphQL code…).
    var impliedCode: ErrorCode? {
        didSet { if self.impliedFrom == nil { self.impliedFrom = self.code } }
    }
    /// The vendor code `impliedCode` was read from (the code, or a family's coarser category such as Google's
    /// `status`): the family's reading of that code comes before the general vocabulary's.
    var impliedFrom: String?
    /// The family's reading of its code stands whatever the status (SOAP 1.1 sends every fault as a 500, so its
    /// `Client` / `Server` fault code is the only signal).
    var impliedOverridesStatus = false
    /// A wait the body itself states (Google `RetryInfo`), used when no header says.
    var retryAfterSeconds: Int?

    init(dialectName: String, code: String? = nil, message: String? = nil) {
        self.dialectName = dialectName
        self.code = code
        self.message = message
    }

    /// Whether anything at all was read.
    var isEmpty: Bool {
        self.code == nil && self.message == nil && self.fieldErrors.isEmpty && self.params == nil
            && self.suggestions == nil
    }
}

/// Field names and JSON Pointers (RFC 6901) as the envelope's `errors[].pointer` wants them: `#/items/0/sku`.
enum FieldPath {
    /// `#/a/b` from a dotted or bracketed field path (`items.0.sku`, `items[0].sku`, `$.email`), or nil when a
    /// segment holds a space. Built on the UTF-8 bytes in one pass, one allocation.
    static func pointer(forField field: String) -> String? {
        var field = field
        return field.withUTF8 { Self.pointer(forFieldUTF8: $0) }
    }

    private static func pointer(forFieldUTF8 all: UnsafeBufferPointer<UInt8>) -> String? {
        var bytes = all[...]
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: ".") { bytes = bytes.dropFirst(2) }
        // First pass: the length, and whether a segment holds a space.
        var length = 1
        var segmentOpen = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "."), UInt8(ascii: "["), UInt8(ascii: "]"): segmentOpen = false
            case UInt8(ascii: " "): return nil
            default:
                if !segmentOpen {
                    length += 1
                    segmentOpen = true
                }
                length += byte == UInt8(ascii: "~") || byte == UInt8(ascii: "/") ? 2 : 1
            }
        }
        guard length > 1 else { return nil }
        // Second pass: written straight into the string's storage (inline when short).
        return String(unsafeUninitializedCapacity: length) { output in
            var count = 0
            func put(_ byte: UInt8) {
                output[count] = byte
                count += 1
            }
            put(UInt8(ascii: "#"))
            var open = false
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "["), UInt8(ascii: "]"): open = false
                default:
                    if !open {
                        put(UInt8(ascii: "/"))
                        open = true
                    }
                    switch byte {
                    case UInt8(ascii: "~"):
                        put(UInt8(ascii: "~"))
                        put(UInt8(ascii: "0"))
                    case UInt8(ascii: "/"):
                        put(UInt8(ascii: "~"))
                        put(UInt8(ascii: "1"))
                    default: put(byte)
                    }
                }
            }
            return count
        }
    }

    /// `#/a/b` from path segments, escaping `~` as `~0` and `/` as `~1`.
    static func pointer<S: StringProtocol>(segments: [S]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "#")]
        bytes.reserveCapacity(segments.reduce(1) { $0 + $1.utf8.count + 1 })
        for segment in segments {
            bytes.append(UInt8(ascii: "/"))
            for byte in segment.utf8 {
                switch byte {
                case UInt8(ascii: "~"): bytes += [UInt8(ascii: "~"), UInt8(ascii: "0")]
                case UInt8(ascii: "/"): bytes += [UInt8(ascii: "~"), UInt8(ascii: "1")]
                default: bytes.append(byte)
                }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `#/data/attributes/email` from a JSON Pointer a vendor sent (`/data/attributes/email`), already escaped.
    static func fragment(fromPointer pointer: String) -> String? {
        if pointer.hasPrefix("#/") { return pointer }
        if pointer.hasPrefix("/") { return "#" + pointer }
        return nil
    }

    /// The last token of a JSON Pointer, unescaped: the vendor's name for the field.
    static func lastToken(ofPointer pointer: String) -> String? {
        guard let token = pointer.split(separator: "/").last, !token.isEmpty, token != "#" else { return nil }
        return JSONValue.unescapePointerToken(token)
    }
}

/// Reading items of the generic `[{field, message, code}]` kind that many vendors use, whatever the key names.
enum GenericItem {
    /// A field error from an object item or a bare string item, or nil when the item carries no message. The one
    /// item reader every family shares with the generic reader (``GenericDialect/fieldItem(_:)``): the field from
    /// `field`, `param`, `path`, `loc`, a JSON pointer or `fields: [names]`; the message, preferring `detail` to
    /// `message`; the item's own code; its `params`.
    static func fieldError(_ item: JSONValue) -> VendorError.FieldError? {
        if let text = item.nonEmptyString { return VendorError.FieldError(message: text) }
        return GenericDialect.fieldItem(item)
    }

    /// Field errors from an object of `field -> message | [messages]`.
    static func fieldMap(_ members: [(key: String, value: JSONValue)]) -> [VendorError.FieldError] {
        var result: [VendorError.FieldError] = []
        for member in members {
            switch member.value {
            case .string(let message):
                result.append(VendorError.FieldError(field: member.key, message: message))
            case .array(let items):
                for item in items {
                    if let message = item.nonEmptyString {
                        result.append(VendorError.FieldError(field: member.key, message: message))
                    } else if var error = Self.fieldError(item) {
                        if error.field == nil { error.field = member.key }
                        result.append(error)
                    }
                }
            case .object:
                if var error = Self.fieldError(member.value) {
                    if error.field == nil { error.field = member.key }
                    result.append(error)
                }
            default:
                break
            }
        }
        return result
    }

    /// Whether `value` is an object whose every member is a message or a list of messages (a bare field map).
    static func isFieldMap(_ value: JSONValue) -> Bool {
        guard let members = value.objectMembers, !members.isEmpty else { return false }
        return members.allSatisfy { member in
            switch member.value {
            case .string(let text): return text.contains(" ")
            case .array(let items): return !items.isEmpty && items.allSatisfy { $0.nonEmptyString != nil }
            default: return false
            }
        }
    }

    /// The strings of an array of strings.
    static func strings(_ value: JSONValue?) -> [String]? {
        guard let items = value?.arrayItems else { return nil }
        let strings = items.compactMap(\.nonEmptyString)
        return strings.isEmpty ? nil : strings
    }
}
