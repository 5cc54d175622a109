import GatewayCore

/// Laravel's `{"success": false, "message", "errors": {"field": ["messages"]}}` (Dokstamp).
enum LaravelDialect: JSONDialect {
    static let name = "laravel"
    static let summary = "Laravel {success:false, message, errors:{field:[messages]}} (Dokstamp)"

    static let completeMembers: Set<String>? = ["success", "message", "errors", "code", "error_code"]

    static func recognise(_ document: JSONValue) -> Bool {
        guard document.objectMembers != nil else { return false }
        if case .bool(false) = document["success"], document["message"] != nil || document["errors"] != nil {
            return true
        }
        if let errors = document["errors"], document["message"]?.nonEmptyString != nil, GenericItem.isFieldMap(errors) {
            return true
        }
        return false
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard document.objectMembers != nil else { return nil }
        var error = VendorError(dialectName: Self.name)
        error.message = document["message"]?.nonEmptyString
        error.code = document["code"]?.nonEmptyString ?? document["error_code"]?.scalarText
        if let members = document["errors"]?.objectMembers {
            error.fieldErrors = GenericItem.fieldMap(members)
        } else if let items = document["errors"]?.arrayItems {
            error.fieldErrors = items.compactMap(GenericItem.fieldError)
        }
        return error.isEmpty ? nil : error
    }
}
