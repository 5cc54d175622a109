/// A key name compared case-insensitively, with what it may hold looked up once: the generic reader's tables of
/// message, code, field and container keys, with their weights.
struct KeyName {
    /// What a key may hold, from the tables below, in one hash look-up.
    struct Role {
        var messageWeight: Int?
        var codeWeight: Int?
        var numericCodeWeight: Int?
        var isCategory = false
        var isRetry = false
        var isIdentifier = false
        var isItemContainer = false
        var isFieldMapContainer = false
        var isMessageList = false
        var isCodeList = false

        var isNone: Bool {
            self.messageWeight == nil && self.codeWeight == nil && self.numericCodeWeight == nil && !self.isRetry
                && !self.isItemContainer && !self.isFieldMapContainer && !self.isMessageList && !self.isCodeList
        }
    }

    let lowered: String
    let role: Role

    init(_ key: String) {
        self.lowered = CodeWords.lowercasedASCII(key)
        self.role = Self.roles[self.lowered] ?? Role()
    }

    init(lowered: String) {
        self.lowered = lowered
        self.role = Self.roles[lowered] ?? Role()
    }

    static let roles: [String: Role] = {
        var roles: [String: Role] = [:]
        func update(_ keys: some Sequence<String>, _ change: (inout Role) -> Void) {
            for key in keys { change(&roles[key, default: Role()]) }
        }
        for (key, weight) in Self.messageWeights { roles[key, default: Role()].messageWeight = weight }
        for (key, weight) in Self.codeWeights { roles[key, default: Role()].codeWeight = weight }
        for (key, weight) in Self.numericCodeWeights { roles[key, default: Role()].numericCodeWeight = weight }
        update(Self.categoryKeys) { $0.isCategory = true }
        update(Self.retryKeys) { $0.isRetry = true }
        update(Self.identifierKeys) { $0.isIdentifier = true }
        update(Self.itemContainers) { $0.isItemContainer = true }
        update(Self.fieldMapContainers) { $0.isFieldMapContainer = true }
        update(Self.messageLists) { $0.isMessageList = true }
        update(Self.codeLists) { $0.isCodeList = true }
        return roles
    }()

    static let messageWeights: [String: Int] = [
        "message": 100, "error_message": 100, "errormessage": 100, "developermessage": 100,
        "developer_message": 100, "error_description": 100, "errordescription": 100, "faultstring": 100,
        "errorsummary": 100, "localizedmessage": 95, "detail": 101, "details": 85, "description": 85, "msg": 85,
        "error": 75, "reason": 70, "status_message": 60, "statusmessage": 60, "display_message": 55,
        "user_message": 55, "usermessage": 55, "text": 50, "title": 40, "error_summary": 100, "summary": 45,
        "errors": 80,
    ]
    /// Keys whose identifiers are codes, never messages.
    static let identifierKeys: Set<String> = ["error", "reason", "status", "type", "name", "code", "errors", "id"]
    /// Texts that stand where a message would and say nothing (Spring Boot's).
    static let placeholders: Set<String> = ["No message available", "No message", "null", "undefined"]
    /// Keys whose arrays list codes, most specific first (Checkout.com's `error_codes`).
    static let codeLists: Set<String> = ["error_codes", "errorcodes", "codes"]
    /// Members of a bare field map that are about the whole request.
    static let wholeRequestKeys: Set<String> = ["non_field_errors", "base", "__all__", "_errors"]
    static let codeWeights: [String: Int] = [
        "issue": 110, "reason": 105, "code": 100, "error_code": 100, "errorcode": 100, "__type": 100,
        "error_subcode": 60, "error": 95, "errortype": 65, "error_type": 65, "name": 70, "type": 60, "status": 55,
        "id": 50, "error_name": 90, "errorname": 90, "code_name": 90, "category": 50,
    ]
    static let numericCodeWeights: [String: Int] = [
        "code": 100, "error_code": 100, "errorcode": 100, "subcode": 40, "error_subcode": 40,
    ]
    /// Coarser codes, kept as the category when a finer code is the code.
    static let categoryKeys: Set<String> = ["type", "errortype", "error_type", "status", "name", "category"]
    static let retryKeys: Set<String> = [
        "retry_after", "retryafter", "retry_after_seconds", "retryafterseconds", "retry_after_ms", "retryafterms",
        "estimated_time",
    ]
    /// Keys whose arrays hold error items (each maybe naming a field).
    static let itemContainers: Set<String> = [
        "errors", "details", "error", "fielderrors", "field_errors", "validation_errors", "validationerrors",
        "violations", "fieldviolations", "invalid_params", "invalid-params", "invalidparams", "causes",
        "errorcauses", "error_causes", "problems", "issues", "messages", "failures", "fault", "faults",
        "invalid_parameters", "errordetails", "error_details", "invalidfields", "invalid_fields",
    ]
    /// Keys whose objects may be a map of field -> message(s).
    static let fieldMapContainers: Set<String> = [
        "errors", "details", "message", "fields", "validation_errors", "validationerrors", "field_errors",
        "fielderrors", "invalid_params", "messages", "error_details", "invalidfields",
    ]
    /// Keys whose arrays of strings are whole-error messages.
    static let messageLists: Set<String> = [
        "errormessages", "error_messages", "messages", "message", "errors", "details",
    ]

    static let itemFieldKeys = [
        "field", "param", "parameter", "property", "attribute", "path", "loc", "pointer", "fields", "propertypath",
        "property_path", "field_name", "fieldname", "key", "source", "name",
    ]
    /// `detail` first: beside a `message` it is the specific one (QuickBooks' `Message` / `Detail`).
    static let itemMessageKeys = [
        "detail", "Detail", "message", "Message", "description", "msg", "defaultmessage", "defaultMessage",
        "error_description", "reason",
        "error", "title", "errorSummary", "errorsummary", "text",
    ]
    static let itemCodeKeys = ["code", "issue", "type", "rule", "error_code", "errorCode", "reason", "error"]
}
