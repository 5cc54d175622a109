import GatewayCore

/// NestJS's `{"statusCode", "message": string | [strings], "error": "Bad Request"}` (Docyard).
///
/// With class-validator, `message` is an array whose items start with the property path ("items.0.sku must be a
/// string"); that path becomes the item's field and pointer.
enum NestJSDialect: JSONDialect {
    static let name = "nestjs"
    static let summary = "NestJS {statusCode, message: string | [strings], error} (Docyard; class-validator arrays)"

    static func recognise(_ document: JSONValue) -> Bool {
        guard case .number = document["statusCode"] else { return false }
        return document["message"] != nil
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard document.objectMembers != nil else { return nil }
        var error = VendorError(dialectName: Self.name)
        error.code = document["code"]?.nonEmptyString ?? document["errorCode"]?.nonEmptyString
        switch document["message"] {
        case .string(let message)?:
            error.message = message.isEmpty ? nil : message
        case .array(let items)?:
            for item in items {
                guard let message = item.nonEmptyString else { continue }
                error.fieldErrors.append(VendorError.FieldError(field: Self.propertyPath(of: message), message: message))
            }
        default:
            break
        }
        if error.message == nil, error.fieldErrors.isEmpty { error.message = document["error"]?.nonEmptyString }
        return error.isEmpty ? nil : error
    }

    /// The leading property path of a class-validator message, or nil when the message does not start with one.
    static func propertyPath(of message: String) -> String? {
        var words = message.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: true)
        if words.count >= 4, words[0] == "each", words[1] == "value", words[2] == "in" {
            words.removeFirst(3)
        }
        guard words.count >= 2, let candidate = words.first, candidate.utf8.count <= 800 else { return nil }
        // class-validator property paths are ASCII in practice: decide on the bytes, and only fall back to
        // Unicode properties (per Character, much slower) for non-ASCII names.
        if candidate.utf8.allSatisfy({ $0 < 0x80 }) {
            guard let first = candidate.utf8.first, !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first),
                candidate.utf8.allSatisfy({ byte in
                    switch byte {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "$"),
                        UInt8(ascii: "-"):
                        return true
                    default:
                        return false
                    }
                })
            else { return nil }
            return String(candidate)
        }
        guard let first = candidate.first, !first.isUppercase, candidate.count <= 200,
            candidate.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "$" || $0 == "-" })
        else { return nil }
        return String(candidate)
    }
}
