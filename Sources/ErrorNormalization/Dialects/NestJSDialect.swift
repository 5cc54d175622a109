import GatewayCore

/// NestJS's `{"statusCode", "message": string | [strings], "error": "Bad Request"}` (Docyard).
///
/// With class-validator, `message` is an array whose items start with the property path ("items.0.sku must be a
/// string"); that path becomes the item's field and pointer.
enum NestJSDialect: JSONDialect {
    static let name = "nestjs"
    static let summary = "NestJS {statusCode, message: string | [strings], error} (Docyard; class-validator arrays)"

    static let completeMembers: Set<String>? = [
        "statusCode", "message", "error", "code", "errorCode", "timestamp", "path",
    ]

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
                error.fieldErrors.append(
                    VendorError.FieldError(field: Self.propertyPath(of: message), message: message))
            }
        default:
            break
        }
        if error.message == nil, error.fieldErrors.isEmpty { error.message = document["error"]?.nonEmptyString }
        return error.isEmpty ? nil : error
    }

    /// The leading property path of a class-validator message, or nil when the message does not start with one.
    ///
    /// Decided on the UTF-8 bytes: class-validator property paths are ASCII in practice (`items.0.sku`), and a
    /// message's first word is all that is looked at; a non-ASCII first word falls back to Unicode properties.
    static func propertyPath(of message: String) -> String? {
        var message = message
        return message.withUTF8 { Self.propertyPath(ofUTF8: $0) }
    }

    private static let eachValueIn = Array("each value in ".utf8)

    private static func propertyPath(ofUTF8 bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var start = 0
        while start < bytes.count, bytes[start] == UInt8(ascii: " ") { start += 1 }
        // "each value in items must be …" names the array.
        let prefix = Self.eachValueIn
        if bytes.count - start > prefix.count, bytes[start..<(start + prefix.count)].elementsEqual(prefix),
            bytes[(start + prefix.count)...].contains(UInt8(ascii: " "))
        {
            start += prefix.count
        }
        var end = start
        var isASCII = true
        while end < bytes.count, bytes[end] != UInt8(ascii: " ") {
            if bytes[end] >= 0x80 { isASCII = false }
            end += 1
        }
        // A path needs words after it ("email must be an email"), and is no longer than 800 bytes.
        guard end != start, end != bytes.count, end - start <= 800 else { return nil }
        let word = UnsafeBufferPointer(rebasing: bytes[start..<end])
        if isASCII {
            guard let first = word.first, !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first),
                word.allSatisfy({ byte in
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
            return String(decoding: word, as: UTF8.self)
        }
        let candidate = String(decoding: word, as: UTF8.self)
        guard let first = candidate.first, !first.isUppercase, candidate.count <= 200,
            candidate.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "$" || $0 == "-" })
        else { return nil }
        return candidate
    }
}
