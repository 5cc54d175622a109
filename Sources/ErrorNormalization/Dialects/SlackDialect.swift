import GatewayCore

/// Slack's Web API `{"ok": false, "error": "channel_not_found"}`, sent with status 200 (`errors_in_success`).
enum SlackDialect: JSONDialect {
    static let name = "slack"
    static let summary = "Slack Web API {ok:false, error} inside a 2xx (errors_in_success)"

    static func recognise(_ document: JSONValue) -> Bool {
        guard case .bool(false) = document["ok"] else { return false }
        return document["error"]?.nonEmptyString != nil
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard Self.recognise(document), let code = document["error"]?.nonEmptyString else { return nil }
        var error = VendorError(dialectName: Self.name, code: code)
        error.message =
            document["detail"]?.nonEmptyString
            ?? GenericItem.strings(document["response_metadata"]?["messages"])?.first
        error.impliedCode = Self.code(for: code)
        return error
    }

    /// The canonical code of a Slack error string; unknown ones are a bad request.
    static func code(for code: String) -> ErrorCode {
        switch code {
        case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_such_token":
            return .unauthenticated
        case "missing_scope", "not_allowed_token_type", "no_permission", "restricted_action", "access_denied",
            "ekm_access_denied", "team_access_not_granted":
            return .permissionDenied
        case "ratelimited", "rate_limited": return .rateLimited
        case "internal_error", "fatal_error": return .upstreamError
        case "service_unavailable": return .upstreamUnavailable
        case "request_timeout": return .upstreamTimeout
        case "method_deprecated", "deprecated_endpoint": return .gone
        default: return code.hasSuffix("_not_found") ? .notFound : .badRequest
        }
    }
}
