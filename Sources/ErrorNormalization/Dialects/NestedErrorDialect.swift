import GatewayCore

/// `{"error": {"code", "message", "type", "param", "suggestions", "details"}}`: Certifier, Dokai, Stripe and many
/// more. Google's variant (a string `status`) is ``GoogleDialect``.
enum NestedErrorDialect: JSONDialect {
    static let name = "nested_error"
    static let summary = "{error:{code, message, type, param, suggestions, details}} (Stripe-like; Certifier, Dokai)"

    static func recognise(_ document: JSONValue) -> Bool {
        guard let inner = document["error"], inner.objectMembers != nil else { return false }
        return inner["code"] != nil || inner["message"] != nil || inner["type"] != nil
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard let inner = document["error"], inner.objectMembers != nil else { return nil }
        var error = VendorError(dialectName: Self.name)
        error.code = inner["code"]?.scalarText ?? inner["error_code"]?.scalarText
        error.category = inner["type"]?.nonEmptyString
        // No code of its own: the type is the code unless a more specific one is found elsewhere (enrichment).
        if error.code == nil, inner["details"]?.objectMembers == nil { swap(&error.code, &error.category) }
        error.message =
            inner["message"]?.nonEmptyString ?? inner["description"]?.nonEmptyString
            ?? inner["detail"]?.nonEmptyString ?? document["message"]?.nonEmptyString
        error.suggestions = GenericItem.strings(inner["suggestions"])
        error.params = inner["params"]?.arrayItems
        if let param = inner["param"]?.nonEmptyString ?? inner["field"]?.nonEmptyString {
            error.fieldErrors.append(
                VendorError.FieldError(field: param, message: error.message ?? param, code: error.code))
        }
        for key in ["details", "errors"] {
            guard let value = inner[key] else { continue }
            if let items = value.arrayItems {
                error.fieldErrors += items.compactMap(GenericItem.fieldError)
            } else if let members = value.objectMembers, GenericItem.isFieldMap(value) {
                error.fieldErrors += GenericItem.fieldMap(members)
            }
        }
        return error.isEmpty ? nil : error
    }
}
