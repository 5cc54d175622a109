import GatewayCore

/// The flat shapes with no standard behind them: `{message}`, `{error: "text"}`, `{detail: "text" | [items]}`
/// (FastAPI), `{errors: [strings]}`, `{code, message}`, Spring Boot's `{timestamp, status, error, message, path}`,
/// a bare `{field: [messages]}` map, and a top-level array of error items.
enum FlatDialect: JSONDialect {
    static let name = "flat"
    static let summary = "flat shapes: {message}, {error:\"text\"}, {detail}, FastAPI, Spring Boot, {errors:[…]}, "
        + "{field:[messages]}"

    static let messageKeys = ["message", "error_description", "error_message", "errorMessage", "msg", "description"]

    static func recognise(_ document: JSONValue) -> Bool {
        if let items = document.arrayItems { return items.contains { GenericItem.fieldError($0) != nil } }
        guard document.objectMembers != nil else { return false }
        if Self.messageKeys.contains(where: { document[$0]?.nonEmptyString != nil }) { return true }
        if document["error"]?.nonEmptyString != nil || document["detail"]?.nonEmptyString != nil { return true }
        if let items = document["detail"]?.arrayItems ?? document["errors"]?.arrayItems, !items.isEmpty { return true }
        if document["code"]?.scalarText != nil { return true }
        return GenericItem.isFieldMap(document) || GenericItem.isFieldMap(document["errors"] ?? .null)
    }

    static func read(_ document: JSONValue) -> VendorError? {
        var error = VendorError(dialectName: Self.name)
        if let items = document.arrayItems {
            error.fieldErrors = items.compactMap(GenericItem.fieldError)
            Self.promoteSingleMessage(&error)
            return error.isEmpty ? nil : error
        }
        guard document.objectMembers != nil else { return nil }
        error.code = document["code"]?.scalarText ?? document["error_code"]?.scalarText
            ?? document["errorCode"]?.scalarText
        // Spring Boot: `error` is the status text; `message` is the specific one (when not suppressed).
        let springMessage = document["message"]?.nonEmptyString.flatMap { $0 == "No message available" ? nil : $0 }
        error.message = springMessage ?? Self.messageKeys.dropFirst().lazy.compactMap { document[$0]?.nonEmptyString }
            .first ?? document["detail"]?.nonEmptyString ?? document["error"]?.nonEmptyString
            ?? document["title"]?.nonEmptyString
        if let items = document["detail"]?.arrayItems {
            error.fieldErrors += items.compactMap(Self.fastAPIItem)
        }
        if let errors = document["errors"] {
            if let items = errors.arrayItems {
                error.fieldErrors += items.compactMap(GenericItem.fieldError)
            } else if let members = errors.objectMembers {
                error.fieldErrors += GenericItem.fieldMap(members)
            }
        }
        if error.message == nil, error.code == nil, error.fieldErrors.isEmpty, GenericItem.isFieldMap(document) {
            error.fieldErrors = GenericItem.fieldMap(document.objectMembers ?? [])
        }
        if error.message == nil { Self.promoteSingleMessage(&error) }
        error.params = document["params"]?.arrayItems
        return error.isEmpty ? nil : error
    }

    /// A lone message without a field is the whole error's message, not a field error.
    private static func promoteSingleMessage(_ error: inout VendorError) {
        guard error.message == nil, let first = error.fieldErrors.first, first.field == nil, first.pointer == nil
        else { return }
        error.message = first.message
        if error.fieldErrors.count == 1 {
            error.code = error.code ?? first.code
            error.fieldErrors = []
        }
    }

    /// A FastAPI/pydantic item `{loc: ["body", "items", 0, "sku"], msg, type}`: `body` locations point into the
    /// request body; `query`, `path`, `header` ones only name the parameter.
    static func fastAPIItem(_ item: JSONValue) -> VendorError.FieldError? {
        guard let message = item["msg"]?.nonEmptyString ?? item["message"]?.nonEmptyString else {
            return GenericItem.fieldError(item)
        }
        var field: String?
        var pointer: String?
        var isBodyField = true
        if let location = item["loc"]?.arrayItems {
            var names = location.compactMap(\.scalarText)
            let place = names.first
            if place == "body" || place == "query" || place == "path" || place == "header" || place == "cookie" {
                names.removeFirst()
            }
            if !names.isEmpty {
                field = names.joined(separator: ".")
                let isParameter = place.map { ["query", "path", "header", "cookie"].contains($0) } ?? false
                if !isParameter { pointer = FieldPath.pointer(segments: names) }
                isBodyField = !isParameter
            }
        }
        return VendorError.FieldError(
            field: field, pointer: pointer, message: message, code: item["type"]?.nonEmptyString,
            isBodyField: isBodyField)
    }
}
