import GatewayCore

/// stemp's shapes: `{"code", "params"}`, `{"STANDARD_VALIDATION": {field: message}}` and
/// `{"CUSTOM_VALIDATION": {code: [params]}}`.
enum FieldMapDialect: JSONDialect {
    static let name = "field_map"
    static let summary =
        "{code, params} | {STANDARD_VALIDATION:{field:message}} | {CUSTOM_VALIDATION:{code:[params]}} (stemp)"
    static let standardKey = "STANDARD_VALIDATION"
    static let customKey = "CUSTOM_VALIDATION"

    static func recognise(_ document: JSONValue) -> Bool {
        guard document.objectMembers != nil else { return false }
        if document[Self.standardKey]?.objectMembers != nil || document[Self.customKey]?.objectMembers != nil {
            return true
        }
        guard document["code"]?.nonEmptyString != nil, let params = document["params"] else { return false }
        return params.isNull || params.arrayItems != nil
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard document.objectMembers != nil else { return nil }
        var error = VendorError(dialectName: Self.name)
        error.code = document["code"]?.nonEmptyString
        error.message = document["message"]?.nonEmptyString
        error.params = document["params"]?.arrayItems
        if let standard = document[Self.standardKey]?.objectMembers {
            error.code = error.code ?? Self.standardKey
            error.fieldErrors += GenericItem.fieldMap(standard)
        }
        if let custom = document[Self.customKey]?.objectMembers {
            error.code = error.code ?? Self.customKey
            for member in custom {
                error.fieldErrors.append(
                    VendorError.FieldError(
                        message: Self.sentence(fromCode: member.key), code: member.key,
                        params: member.value.arrayItems ?? (member.value.isNull ? nil : [member.value])))
            }
        }
        if error.code == Self.standardKey || error.code == Self.customKey { error.impliedCode = .validationFailed }
        return error.isEmpty ? nil : error
    }

    /// "email_already_exists" -> "Email already exists": the only text a custom validation code carries.
    static func sentence(fromCode code: String) -> String {
        var words = code.split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == "." }).map { $0.lowercased() }
        guard let first = words.first else { return code }
        words[0] = first.prefix(1).uppercased() + first.dropFirst()
        return words.joined(separator: " ")
    }
}
