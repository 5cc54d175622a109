import GatewayCore

/// The walk over one document: candidates with scores, field errors in order.
struct GenericWalk {
    struct Candidate {
        var text: String
        var score: Int
    }

    let status: Int?
    var collectsFieldErrors = true
    var message: Candidate?
    var code: Candidate?
    var category: Candidate?
    var fieldErrors: [VendorError.FieldError] = []
    /// Messages that name no field (`errors: ["…", "…"]`, `errorMessages`), in order.
    var looseMessages: [String] = []
    var retryAfter: Int?
    var topLevelArray = false
    /// Bounds the work on hostile input: members looked at.
    var budget = 2_000

    static let maximumDepth = 8

    init(status: Int?) {
        self.status = status
    }

    mutating func visit(_ value: JSONValue, key: KeyName?, depth: Int, inItem: Bool) {
        guard depth <= Self.maximumDepth, self.budget > 0 else { return }
        self.budget -= 1
        switch value {
        case .object(let members):
            self.visitObject(members, depth: depth, inItem: inItem)
        case .array(let items):
            self.visitArray(items, key: key, depth: depth, inItem: inItem)
        default:
            break
        }
    }

    private mutating func visitObject(_ members: [(key: String, value: JSONValue)], depth: Int, inItem: Bool) {
        for member in members {
            guard self.budget > 0 else { return }
            self.budget -= 1
            let key = KeyName(member.key)
            switch member.value {
            case .string(let text):
                self.consider(text: text, key: key, depth: depth, inItem: inItem)
            case .number(let number):
                self.consider(number: number, key: key, depth: depth, inItem: inItem)
            case .array(let items):
                self.visitArray(items, key: key, depth: depth + 1, inItem: inItem)
            case .object(let inner):
                if key.role.isFieldMapContainer, inner.count == 1, let only = inner.first,
                    let text = only.value.nonEmptyString, KeyName(only.key).role.messageWeight != nil
                {
                    // `{"errors": {"detail": "Not Found"}}` (Phoenix): a message in a container, not a field.
                    self.consider(text: text, key: KeyName(only.key), depth: depth + 1, inItem: inItem)
                } else if key.role.isFieldMapContainer, !inItem, !self.collectsFieldErrors {
                    // Enriching a family that read field errors: the container it read them from is not read again.
                    continue
                } else if key.role.isFieldMapContainer, !inItem, Self.looksLikeFieldMap(inner) {
                    self.fieldErrors += Self.fieldMap(inner, prefix: nil, depth: depth + 1)
                } else {
                    self.visit(member.value, key: key, depth: depth + 1, inItem: inItem)
                }
            default:
                break
            }
        }
    }

    private mutating func visitArray(_ items: [JSONValue], key: KeyName?, depth: Int, inItem: Bool) {
        guard depth <= Self.maximumDepth else { return }
        if depth == 0 { self.topLevelArray = true }
        let isContainer = key?.role.isItemContainer ?? (depth == 0)
        if key?.role.isCodeList == true, let first = items.first?.nonEmptyString, !inItem {
            self.offer(&self.code, Candidate(text: first, score: 105 - depth * 3))
            return
        }
        if items.allSatisfy({ $0.nonEmptyString != nil }) {
            // `errors: ["…"]`, `errorMessages: ["…"]`: messages that name no field (not needed beside a family's
            // field errors).
            if isContainer || key?.role.isMessageList == true, !inItem, self.collectsFieldErrors {
                self.looseMessages += items.prefix(EnvelopeAssembler.maximumFieldErrors).compactMap(\.nonEmptyString)
            }
            return
        }
        for item in items.prefix(EnvelopeAssembler.maximumFieldErrors) {
            guard item.objectMembers != nil else { continue }
            let namesField = Self.fieldName(of: item) != nil
            if isContainer, self.collectsFieldErrors, !inItem, namesField, let fieldError = Self.fieldItem(item) {
                self.fieldErrors.append(fieldError)
                // Its code may be the most specific one there is (PayPal's `details[].issue`); a top-level array's
                // items are whole errors (Salesforce), their codes the error's.
                self.visit(item, key: key, depth: depth, inItem: depth > 0)
            } else {
                if isContainer, !inItem, !namesField, let message = Self.itemMessage(item) {
                    self.looseMessages.append(message)
                }
                self.visit(item, key: key, depth: depth, inItem: inItem || namesField)
            }
        }
    }

    private mutating func consider(text: String, key: KeyName, depth: Int, inItem: Bool) {
        guard !key.role.isNone else { return }
        let trimmed = Substring(text).trimmingASCIIWhitespace()
        guard !trimmed.isEmpty else { return }
        let isSentence = trimmed.utf8.contains(UInt8(ascii: " "))
        if let weight = key.role.messageWeight, !inItem, isSentence || !key.role.isIdentifier,
            !KeyName.placeholders.contains(String(trimmed))
        {
            var score = weight - depth * 3
            if !isSentence { score -= 40 }
            if VendorError.isGeneric(String(trimmed)) { score -= 45 }
            self.offer(&self.message, Candidate(text: String(trimmed), score: score))
        }
        if !isSentence, trimmed.utf8.count <= 128, let weight = key.role.codeWeight,
            Self.isCodeLike(trimmed, key: key.lowered)
        {
            // Inside an item that names a field, codes are that field's (`missing_field`); PayPal's `issue` is the
            // exception: it is the most specific code PayPal sends.
            guard !inItem || key.lowered == "issue" else { return }
            let score = weight - depth * 3
            let code = Self.withoutNamespace(trimmed)
            if key.role.isCategory {
                self.offer(&self.category, Candidate(text: code, score: score))
            }
            self.offer(&self.code, Candidate(text: code, score: score))
        }
        if key.role.isRetry { self.retry(text: String(trimmed), key: key.lowered) }
    }

    private mutating func consider(number: String, key: KeyName, depth: Int, inItem: Bool) {
        if key.role.isRetry {
            self.retry(text: number, key: key.lowered)
            return
        }
        guard let weight = key.role.numericCodeWeight, number.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { return }
        // A number that repeats the HTTP status is not a code of the vendor's own.
        if let status = self.status, Int(number) == status { return }
        if self.status == nil, let value = Int(number), (100...599).contains(value) { return }
        guard !inItem else { return }
        self.offer(&self.code, Candidate(text: number, score: weight - depth * 3))
    }

    private mutating func retry(text: String, key: String) {
        guard self.retryAfter == nil, let value = Double(text), value.isFinite, value >= 0, value < 1e9 else { return }
        let seconds = key.hasSuffix("ms") ? value / 1000 : value
        self.retryAfter = Int(seconds.rounded(.up))
    }

    private func offer(_ slot: inout Candidate?, _ candidate: Candidate) {
        if let current = slot, current.score >= candidate.score { return }
        slot = candidate
    }

    mutating func finish(into error: inout VendorError) {
        error.code = self.code?.text
        if let category = self.category?.text, category != error.code { error.category = category }
        error.message = self.message.flatMap { $0.score > 0 || self.looseMessages.isEmpty ? $0.text : nil }
        error.fieldErrors = self.fieldErrors
        error.retryAfterSeconds = self.retryAfter
        if self.collectsFieldErrors {
            let loose = self.looseMessages.filter { $0 != error.message }
            if error.message == nil, let first = loose.first {
                error.message = first
                if loose.count > 1 { error.fieldErrors += loose.map { VendorError.FieldError(message: $0) } }
            } else if loose.count > 1 || (!loose.isEmpty && !error.fieldErrors.isEmpty) {
                error.fieldErrors += loose.map { VendorError.FieldError(message: $0) }
            }
        } else if error.message == nil {
            error.message = self.looseMessages.first
        }
        // No code for the whole error: the first field error's code is the most specific one the vendor sent
        // (GitHub's `custom`, Spring's `NotBlank`).
        if error.code == nil, self.collectsFieldErrors { error.code = error.fieldErrors.first?.code }
        // A top-level array of one error that names a field (Salesforce): the item is the whole error too.
        if error.message == nil, self.topLevelArray, error.fieldErrors.count == 1 {
            error.message = error.fieldErrors[0].message
            if error.code == nil { error.code = error.fieldErrors[0].code }
        }
        // A lone item that names no field is the whole error's message.
        if error.message == nil, error.fieldErrors.count == 1, let only = error.fieldErrors.first, only.field == nil,
            only.pointer == nil
        {
            error.message = only.message
            if error.code == nil { error.code = only.code }
            error.fieldErrors = []
        }
    }

    // MARK: - Shapes

    /// An item that names a field and carries a message, as a field error.
    static func fieldItem(_ item: JSONValue) -> VendorError.FieldError? {
        // `{"InvalidField": {"name", "message"}}` (Adyen): an item wrapped in a one-member object.
        if let members = item.objectMembers, members.count == 1, members[0].value.objectMembers != nil,
            Self.itemMessage(item) == nil
        {
            return Self.fieldItem(members[0].value)
        }
        guard let message = Self.itemMessage(item) else { return nil }
        let (field, pointer, isBody) = Self.fieldName(of: item) ?? (nil, nil, true)
        let code = KeyName.itemCodeKeys.lazy.compactMap { item[$0]?.scalarText }.first { $0 != message }
        return VendorError.FieldError(
            field: field, pointer: pointer, message: message, code: code, params: item["params"]?.arrayItems,
            isBodyField: isBody)
    }

    static func itemMessage(_ item: JSONValue) -> String? {
        for key in KeyName.itemMessageKeys {
            if let text = item[key]?.nonEmptyString, text.contains(" ") || key != "error" { return text }
        }
        return nil
    }

    /// The field an item names: its name, its pointer when it sent one, and whether it is in the body.
    static func fieldName(of item: JSONValue) -> (String, String?, Bool)? {
        if let members = item.objectMembers, members.count == 1, members[0].value.objectMembers != nil {
            return Self.fieldName(of: members[0].value)
        }
        for key in KeyName.itemFieldKeys {
            guard let value = item[key] else { continue }
            if let text = value.nonEmptyString {
                if text.hasPrefix("/") || text.hasPrefix("#/") {
                    let pointer = FieldPath.fragment(fromPointer: text)
                    guard let last = FieldPath.lastToken(ofPointer: text) else { continue }
                    return (last, pointer, true)
                }
                return (text, nil, true)
            }
            if let parts = value.arrayItems, !parts.isEmpty {
                let names = parts.compactMap(\.scalarText)
                guard names.count == parts.count else { continue }
                if key == "fields" { return (names[0], nil, true) }
                var segments = names[...]
                var isBody = true
                if key == "loc", let place = segments.first,
                    ["body", "query", "path", "header", "cookie"].contains(place)
                {
                    isBody = place == "body"
                    segments = segments.dropFirst()
                }
                guard !segments.isEmpty else { continue }
                return (
                    segments.joined(separator: "."), isBody ? FieldPath.pointer(segments: Array(segments)) : nil, isBody
                )
            }
            if key == "source", let pointer = value["pointer"]?.nonEmptyString,
                let last = FieldPath.lastToken(ofPointer: pointer)
            {
                return (last, FieldPath.fragment(fromPointer: pointer), true)
            }
            if key == "source", let parameter = value["parameter"]?.nonEmptyString ?? value["header"]?.nonEmptyString {
                return (parameter, nil, false)
            }
        }
        return nil
    }

    /// Whether an object is a map of field -> message(s): every member a string, a list of strings or of items,
    /// or a nested map of the same kind.
    static func looksLikeFieldMap(_ members: [(key: String, value: JSONValue)], depth: Int = 0) -> Bool {
        guard !members.isEmpty, depth < 4 else { return false }
        return members.allSatisfy { member in
            // `details: {causes: […]}` (Kubernetes) is a container of items, not a field named `causes`.
            if KeyName(member.key).role.isItemContainer { return false }
            switch member.value {
            case .string(let text): return text.contains(" ")
            case .array(let items):
                return !items.isEmpty
                    && items.allSatisfy {
                        $0.nonEmptyString != nil || ($0.objectMembers != nil && Self.itemMessage($0) != nil)
                    }
            case .object(let inner):
                return Self.itemMessage(member.value) != nil || Self.looksLikeFieldMap(inner, depth: depth + 1)
            default:
                return false
            }
        }
    }

    /// Field errors from a map, nested maps joined with dots (`embeds.0.title`); `_errors` lists belong to the
    /// enclosing name (Discord).
    static func fieldMap(
        _ members: [(key: String, value: JSONValue)], prefix: String?, depth: Int
    ) -> [VendorError.FieldError] {
        guard depth <= Self.maximumDepth else { return [] }
        var result: [VendorError.FieldError] = []
        for member in members {
            let isOwnList = member.key == "_errors"
            let field = isOwnList ? prefix : (prefix.map { $0 + "." + member.key } ?? member.key)
            switch member.value {
            case .string(let message):
                result.append(VendorError.FieldError(field: field, message: message))
            case .array(let items):
                for item in items.prefix(EnvelopeAssembler.maximumFieldErrors) {
                    if let message = item.nonEmptyString {
                        result.append(VendorError.FieldError(field: field, message: message))
                    } else if var error = Self.fieldItem(item) {
                        if error.field == nil || isOwnList { error.field = field }
                        result.append(error)
                    }
                }
            case .object(let inner):
                if Self.itemMessage(member.value) != nil, var error = Self.fieldItem(member.value) {
                    if error.field == nil { error.field = field }
                    result.append(error)
                } else {
                    result += Self.fieldMap(inner, prefix: field, depth: depth + 1)
                }
            default:
                break
            }
        }
        return result
    }

    /// Whether a string under a code key is an identifier rather than a URL, a sentence or the word "error".
    static func isCodeLike(_ text: Substring, key: String) -> Bool {
        if text.contains("://") || (key == "type" && (text.contains("/") || text.contains(":"))) { return false }
        switch key {
        case "type", "error", "name", "status", "id", "kind", "errortype", "error_type":
            if text.lowercased() == "error" { return false }
        default:
            break
        }
        // NestJS and Spring put the status's reason phrase under `error` ("Conflict"): that is no code. (Under
        // `code`, a word such as `conflict` is the vendor's code: Certifier's.)
        if key == "error" || key == "title", VendorError.isGeneric(String(text)) { return false }
        switch key {
        case "id":
            // DigitalOcean and Heroku name the error (`not_found`); other ids are opaque.
            return text.utf8.count <= 40
                && text.utf8.allSatisfy { byte in
                    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                        || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_")
                }
        case "status":
            return text.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "_")
            }
                && text.utf8.count > 3
        case "name":
            return text.contains("_") || text.hasSuffix("Error") || text.hasSuffix("Exception")
                || text.utf8.allSatisfy {
                    ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "_")
                }
        default:
            return true
        }
    }

    static func withoutNamespace(_ text: Substring) -> String {
        if let hash = text.lastIndex(of: "#") { return String(text[text.index(after: hash)...]) }
        return String(text)
    }
}
