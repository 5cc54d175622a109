import GatewayCore

/// RFC 9457 / RFC 7807 problem documents, including ASP.NET Core's `errors` map and RFC 9457's `errors` array.
enum ProblemJSONDialect: JSONDialect {
    static let name = "problem_json"
    static let summary = "RFC 9457/7807 problem details {type, title, status, detail}, incl. ASP.NET errors maps"

    static func recognise(_ document: JSONValue) -> Bool {
        guard document.objectMembers != nil else { return false }
        let hasType = document["type"]?.nonEmptyString != nil
        let hasTitle = document["title"]?.nonEmptyString != nil
        let hasStatus: Bool
        if case .number = document["status"] { hasStatus = true } else { hasStatus = false }
        return (hasType || hasTitle) && (hasStatus || document["detail"]?.nonEmptyString != nil)
            || (hasType && hasTitle)
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard document.objectMembers != nil else { return nil }
        var error = VendorError(dialectName: Self.name)
        error.message = document["detail"]?.nonEmptyString ?? document["title"]?.nonEmptyString
        if let code = document["code"]?.scalarText ?? document["error_code"]?.scalarText {
            error.code = code
        } else if let type = document["type"]?.nonEmptyString, type != "about:blank",
            let last = type.split(separator: "/").last, !last.isEmpty
        {
            error.code = String(last.split(separator: "#").last ?? last)
        }
        if let errors = document["errors"] {
            if let members = errors.objectMembers {
                error.fieldErrors = GenericItem.fieldMap(members)
            } else if let items = errors.arrayItems {
                error.fieldErrors = items.compactMap(GenericItem.fieldError)
            }
        }
        if let invalid = document["invalid-params"]?.arrayItems ?? document["invalid_params"]?.arrayItems {
            error.fieldErrors += invalid.compactMap(GenericItem.fieldError)
        }
        return error.isEmpty ? nil : error
    }
}
