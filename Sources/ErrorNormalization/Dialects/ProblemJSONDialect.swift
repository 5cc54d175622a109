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
        if let code = document["code"]?.scalarText ?? document["error_code"]?.scalarText
            ?? document["errorCode"]?.scalarText
        {
            error.code = code
        } else if let type = document["type"]?.nonEmptyString {
            error.code = Self.code(fromType: type)
        }
        if let errors = document["errors"] {
            if let members = errors.objectMembers {
                error.fieldErrors = GenericItem.fieldMap(members)
            } else if let items = errors.arrayItems {
                error.fieldErrors = items.compactMap(GenericItem.fieldError)
            }
        }
        if let invalid = document["invalid-params"]?.arrayItems ?? document["invalid_params"]?.arrayItems
            ?? document["invalid_parameters"]?.arrayItems
        {
            error.fieldErrors += invalid.compactMap(GenericItem.fieldError)
        }
        // One field named beside the detail (Mollie): the detail is that field's message too.
        if error.fieldErrors.isEmpty, let field = document["field"]?.nonEmptyString, let message = error.message {
            error.fieldErrors.append(VendorError.FieldError(field: field, message: message))
        }
        return error.isEmpty ? nil : error
    }

    /// The code a `type` URI names: its fragment or last path segment (`…/probs/out-of-credit`,
    /// `…/Error#out-of-credit`), unless the URI only points at a generic page (an RFC section, `about:blank`,
    /// a vendor's errors index).
    static func code(fromType type: String) -> String? {
        guard type != "about:blank", !type.contains("ietf.org"), !type.contains("rfc-editor.org"),
            !type.contains("developer.mozilla.org")
        else { return nil }
        let afterFragment = type.split(separator: "#", omittingEmptySubsequences: false).last ?? ""
        let candidate = type.contains("#") ? afterFragment : (type.split(separator: "/").last ?? "")
        let stoplist: Set<Substring> = ["errors", "error", "error-glossary", "problems", "problem", "docs", "blank"]
        guard !candidate.isEmpty, !stoplist.contains(candidate), !candidate.hasPrefix("section"),
            !candidate.contains("."), !candidate.contains(":")
        else { return nil }
        return String(candidate)
    }
}
