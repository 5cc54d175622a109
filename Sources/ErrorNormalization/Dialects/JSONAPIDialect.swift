import GatewayCore

/// JSON:API error objects: `{"errors": [{"status", "code", "title", "detail", "source": {"pointer"|"parameter"}}]}`.
enum JSONAPIDialect: JSONDialect {
    static let name = "jsonapi"
    static let summary = "JSON:API {errors:[{status, code, title, detail, source:{pointer|parameter}}]}"

    static func recognise(_ document: JSONValue) -> Bool {
        guard let items = document["errors"]?.arrayItems, let first = items.first, first.objectMembers != nil else {
            return false
        }
        if first["message"] != nil { return false }
        return first["title"] != nil || first["detail"] != nil || first["source"] != nil
            || first["status"]?.nonEmptyString != nil
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard let items = document["errors"]?.arrayItems else { return nil }
        var error = VendorError(dialectName: Self.name)
        var loose: [VendorError.FieldError] = []
        for item in items where item.objectMembers != nil {
            let text = item["detail"]?.nonEmptyString ?? item["title"]?.nonEmptyString
            let code = item["code"]?.scalarText
            if error.code == nil { error.code = code }
            let source = item["source"]
            if let pointer = source?["pointer"]?.nonEmptyString, let text {
                error.fieldErrors.append(
                    VendorError.FieldError(
                        field: FieldPath.lastToken(ofPointer: pointer),
                        pointer: FieldPath.fragment(fromPointer: pointer),
                        message: text, code: code))
            } else if let parameter = source?["parameter"]?.nonEmptyString ?? source?["header"]?.nonEmptyString,
                let text
            {
                error.fieldErrors.append(
                    VendorError.FieldError(
                        field: parameter, pointer: nil, message: text, code: code, isBodyField: false))
            } else if let text {
                loose.append(VendorError.FieldError(message: text, code: code))
            }
        }
        // Several errors that name no field are each listed (the first is also the detail, see `settle`); a lone
        // one is the whole error's message.
        if loose.count == 1 || (!loose.isEmpty && !error.fieldErrors.isEmpty) {
            error.message = loose[0].message
        }
        if loose.count > 1 { error.fieldErrors = loose + error.fieldErrors }
        return error.isEmpty ? nil : error
    }
}
