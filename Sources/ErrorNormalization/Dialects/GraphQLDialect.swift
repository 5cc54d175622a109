import GatewayCore

/// GraphQL responses with `errors` (GraphQL over HTTP): `{"errors": [{"message", "path", "extensions": {"code"}}],
/// "data": null}`.
enum GraphQLDialect: JSONDialect {
    static let name = "graphql"
    static let summary = "GraphQL {errors:[{message, path, extensions:{code}}], data} (UNAUTHENTICATED, THROTTLED…)"

    static func recognise(_ document: JSONValue) -> Bool {
        guard let items = document["errors"]?.arrayItems, let first = items.first else { return false }
        return first["message"]?.nonEmptyString != nil
            && (document["data"] != nil || first["extensions"] != nil || first["path"] != nil
                || first["locations"] != nil)
    }

    /// Whether a 2xx body is a failed GraphQL request: errors and no data.
    static func isFailure(_ document: JSONValue) -> Bool {
        guard let items = document["errors"]?.arrayItems, let first = items.first,
            first["message"]?.nonEmptyString != nil
        else { return false }
        return document["data"] == nil || document["data"]?.isNull == true
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard let items = document["errors"]?.arrayItems, !items.isEmpty else { return nil }
        var error = VendorError(dialectName: Self.name)
        var messages: [VendorError.FieldError] = []
        for item in items {
            guard let message = item["message"]?.nonEmptyString else { continue }
            let code =
                item["extensions"]?["code"]?.nonEmptyString ?? item["extensions"]?["classification"]?.nonEmptyString
            if error.message == nil {
                error.message = message
                error.code = code
            }
            let field =
                item["extensions"]?["field"]?.nonEmptyString ?? item["extensions"]?["argumentName"]?.nonEmptyString
            messages.append(VendorError.FieldError(field: field, message: message, code: code))
        }
        if messages.count > 1 || messages.contains(where: { $0.field != nil }) { error.fieldErrors = messages }
        if let code = error.code { error.impliedCode = Self.code(for: code) }
        return error.isEmpty ? nil : error
    }

    /// The canonical code of a common `extensions.code` (Apollo and others).
    static func code(for code: String) -> ErrorCode? {
        switch code.uppercased() {
        case "UNAUTHENTICATED", "UNAUTHORIZED": return .unauthenticated
        case "FORBIDDEN": return .permissionDenied
        case "BAD_USER_INPUT": return .validationFailed
        case "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_REQUEST", "PERSISTED_QUERY_NOT_FOUND",
            "PERSISTED_QUERY_NOT_SUPPORTED", "OPERATION_RESOLUTION_FAILURE":
            return .badRequest
        case "THROTTLED", "RATE_LIMITED", "TOO_MANY_REQUESTS": return .rateLimited
        case "NOT_FOUND": return .notFound
        case "CONFLICT": return .conflict
        case "INTERNAL_SERVER_ERROR": return .upstreamError
        default: return nil
        }
    }
}
