import GatewayCore

/// Any JSON error body no family claims, read by scoring candidate keys at every depth: objects, top-level arrays,
/// and `error` / `errors` / `details` / `fault` containers nested in each other.
///
/// - The **message** is the string under the best message key (`message`, `error_description`, `detail`,
///   `description`, `reason`, `title`…), preferring sentences to identifiers, specific text to a bare status phrase
///   ("Bad Request"), and shallow members to deep ones.
/// - The **code** is the most specific machine code: a detail's `issue` or `reason` over a `code` over a `type`,
///   `name` or `status`; numbers count (as text) unless they only repeat the HTTP status; a namespace is dropped
///   (`com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`).
/// - **Field errors** come from arrays of items that name a field (`field`, `param`, `path`, `loc`, a JSON pointer,
///   `fields: [names]`) and from maps of field to message(s), nested maps included (Discord's `_errors`).
/// - A **wait** stated in the body (`retry_after`, `retryAfterSeconds`) is kept for when no header says.
enum GenericDialect: JSONDialect {
    static let name = "generic"
    /// The name this reader had when it only knew flat shapes; configs that say `dialect: flat` keep working.
    static let formerName = "flat"
    static let summary = "any other JSON shape: message, code and field errors found by scoring keys at any depth"

    static func recognise(_ document: JSONValue) -> Bool {
        document.objectMembers != nil || document.arrayItems != nil
    }

    static func read(_ document: JSONValue) -> VendorError? {
        Self.read(document, status: nil)
    }

    static func read(_ document: JSONValue, status: Int?) -> VendorError? {
        var walk = GenericWalk(status: status)
        walk.visit(document, key: nil, depth: 0, inItem: false)
        var error = VendorError(dialectName: Self.name)
        walk.finish(into: &error)
        // A body that is nothing but a map of field -> messages (Django REST Framework, Rails); `non_field_errors`
        // and `base` are messages about the whole request.
        if error.message == nil, error.code == nil, error.fieldErrors.isEmpty, let members = document.objectMembers,
            GenericWalk.looksLikeFieldMap(members)
        {
            for member in members {
                if KeyName.wholeRequestKeys.contains(member.key) {
                    let messages = GenericItem.strings(member.value) ?? member.value.nonEmptyString.map { [$0] } ?? []
                    error.fieldErrors += messages.map { VendorError.FieldError(message: $0) }
                } else {
                    error.fieldErrors += GenericWalk.fieldMap([member], prefix: nil, depth: 1)
                }
            }
        }
        return error.isEmpty ? nil : error
    }

    /// An error item, as every family reads items (see ``GenericItem/fieldError(_:)``).
    static func fieldItem(_ item: JSONValue) -> VendorError.FieldError? {
        GenericWalk.fieldItem(item)
    }

    /// Fills what a family left empty (its code, message or stated wait) from the same document.
    static func enrich(_ error: inout VendorError, from document: JSONValue, status: Int?) {
        // Only what can still be missing is looked for: a code, a message; a stated wait where one matters (429,
        // 5xx); field errors where they belong (400, 422).
        let wantsWait = error.retryAfterSeconds == nil && (status == 429 || (status ?? 0) >= 500)
        let wantsFields = error.fieldErrors.isEmpty && (status == 400 || status == 422)
        guard error.code == nil || error.message == nil || wantsWait || wantsFields else { return }
        var walk = GenericWalk(status: status)
        walk.collectsFieldErrors = error.fieldErrors.isEmpty
        walk.visit(document, key: nil, depth: 0, inItem: false)
        var found = VendorError(dialectName: error.dialectName)
        walk.finish(into: &found)
        if error.code == nil {
            error.code = found.code
            if error.category == nil { error.category = found.category }
        }
        // Beside the family's field errors, a status phrase ("Bad Request") is no message: the envelope's neutral
        // summary says more.
        if error.message == nil, let message = found.message,
            error.fieldErrors.isEmpty
                || (message != error.fieldErrors.first?.message && !VendorError.isGeneric(message))
        {
            error.message = message
        }
        if error.retryAfterSeconds == nil { error.retryAfterSeconds = found.retryAfterSeconds }
        if error.fieldErrors.isEmpty {
            error.fieldErrors = found.fieldErrors.filter { $0.field != nil || $0.pointer != nil }
        }
    }
}
