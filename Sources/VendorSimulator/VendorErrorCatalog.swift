/// One documented error response of one seed vendor: what `?error=NAME` on `/{vendor}/...` answers.
///
/// The catalog is data so that tests and docs can enumerate it. Bodies marked ``isVerbatim`` are copied
/// byte for byte from the vendor's error page in `shared/seeds/`; the others follow the vendor's documented
/// shape and status where the page gives a status (or a code) but no body.
///
/// Header values may contain the template `{unix+N}`, replaced at response time by the current Unix time
/// plus `N` seconds (vendors' `X-RateLimit-Reset` / `X-Quota-Reset` are absolute Unix times in the future).
/// Use ``resolvedHeaders(unixTime:)`` to get the values a response sent at `unixTime` carries.
public struct VendorErrorExample: Sendable {
    /// The vendor, as in the URL's first segment: `dokstamp`, `certifier`, `docyard`, `dokai`, `stemp`.
    public var vendor: String
    /// The value of the `error` control parameter that selects this example.
    public var name: String
    /// The HTTP status the vendor documents for it.
    public var status: Int
    /// Headers sent besides `Content-Type` and `Content-Length` (templates allowed, see the type's doc).
    public var headers: [(name: String, value: String)]
    /// The exact response body.
    public var body: String
    /// The response's `Content-Type`.
    public var contentType: String
    /// Whether ``body`` is copied verbatim from the vendor's documentation page.
    public var isVerbatim: Bool

    /// Creates an example.
    public init(
        vendor: String,
        name: String,
        status: Int,
        headers: [(name: String, value: String)] = [],
        body: String,
        contentType: String = "application/json",
        isVerbatim: Bool
    ) {
        self.vendor = vendor
        self.name = name
        self.status = status
        self.headers = headers
        self.body = body
        self.contentType = contentType
        self.isVerbatim = isVerbatim
    }

    /// The headers with every `{unix+N}` template replaced by `unixTime + N`.
    public func resolvedHeaders(unixTime: Int) -> [(name: String, value: String)] {
        self.headers.map { (name: $0.name, value: VendorErrorExample.resolveTemplate($0.value, unixTime: unixTime)) }
    }

    /// Replaces `{unix+N}` in `value` by `unixTime + N`; other text is kept.
    static func resolveTemplate(_ value: String, unixTime: Int) -> String {
        guard let open = value.firstRange(of: "{unix+"), let close = value[open.upperBound...].firstIndex(of: "}"),
            let offset = Int(value[open.upperBound..<close])
        else {
            return value
        }
        return String(value[..<open.lowerBound]) + String(unixTime + offset)
            + String(value[value.index(after: close)...])
    }
}

extension VendorSimulator {
    /// The vendors the simulator knows, in the order of `shared/seeds/`.
    public static let vendors: [String] = ["dokstamp", "certifier", "docyard", "dokai", "stemp"]

    /// Every documented error example of every seed vendor (see ``VendorErrorExample``).
    public static let catalog: [VendorErrorExample] =
        dokstampErrors + certifierErrors + docyardErrors + dokaiErrors + stempErrors

    /// Alternative names accepted by `error=`: (vendor, alias, catalog name).
    public static let errorAliases: [(vendor: String, alias: String, name: String)] = [
        ("dokstamp", "unauthorized", "unauthenticated"),
        ("dokstamp", "internal_server_error", "server"),
        ("stemp", "not_found", "resource_not_found"),
        ("stemp", "oauth", "oauth_invalid_grant"),
        ("stemp", "invalid_request", "oauth_invalid_request"),
        ("stemp", "invalid_client", "oauth_invalid_client"),
        ("stemp", "invalid_grant", "oauth_invalid_grant"),
        ("stemp", "invalid_scope", "oauth_invalid_scope"),
        ("stemp", "unauthorized_client", "oauth_unauthorized_client"),
    ]

    /// The catalog entry for `error=name` on `vendor`: by name, then by alias, then (for a number) the
    /// first entry of the vendor with that status.
    public static func errorExample(vendor: String, name: String) -> VendorErrorExample? {
        if let found = self.catalog.first(where: { $0.vendor == vendor && $0.name == name }) {
            return found
        }
        if let alias = self.errorAliases.first(where: { $0.vendor == vendor && $0.alias == name }),
            let found = self.catalog.first(where: { $0.vendor == vendor && $0.name == alias.name })
        {
            return found
        }
        if let status = Int(name) {
            return self.catalog.first(where: { $0.vendor == vendor && $0.status == status })
        }
        return nil
    }

    // MARK: Dokstamp (000): Laravel style, `{success:false, message, errors?}`.

    private static let dokstampErrors: [VendorErrorExample] = [
        VendorErrorExample(
            vendor: "dokstamp", name: "validation", status: 422,
            body: """
                {
                  "success": false,
                  "message": "The given data was invalid.",
                  "errors": {
                    "email": ["The email field is required.", "The email must be a valid email address."],
                    "course_uuid": ["The selected course uuid is invalid."]
                  }
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "dokstamp", name: "unauthenticated", status: 401,
            body: """
                {
                  "success": false,
                  "message": "Unauthenticated."
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "dokstamp", name: "not_found", status: 404,
            body: """
                {
                  "success": false,
                  "message": "Resource not found."
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "dokstamp", name: "server", status: 500,
            body: """
                {
                  "success": false,
                  "message": "Server Error"
                }
                """,
            isVerbatim: true
        ),
        // Statuses from the page's table, bodies in its shape (Laravel's stock messages).
        VendorErrorExample(
            vendor: "dokstamp", name: "bad_request", status: 400,
            body: #"{"success":false,"message":"Malformed request body."}"#, isVerbatim: false
        ),
        VendorErrorExample(
            vendor: "dokstamp", name: "forbidden", status: 403,
            body: #"{"success":false,"message":"This action is unauthorized."}"#, isVerbatim: false
        ),
        VendorErrorExample(
            vendor: "dokstamp", name: "rate_limited", status: 429,
            headers: [("Retry-After", "60"), ("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "0")],
            body: #"{"success":false,"message":"Too Many Attempts."}"#, isVerbatim: false
        ),
    ]

    // MARK: Certifier (001): `{error:{code, message}}`, the code table with its statuses.

    private static func certifier(_ code: String, _ status: Int, _ message: String) -> VendorErrorExample {
        VendorErrorExample(
            vendor: "certifier", name: code, status: status,
            body: #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#, isVerbatim: false
        )
    }

    private static let certifierErrors: [VendorErrorExample] = [
        certifier(
            "missing_version", 400, "The request is missing the required Certifier-Version header. See versioning."
        ),
        certifier("invalid_version", 400, "The Certifier-Version header's value is invalid. See versioning."),
        certifier("invalid_json", 400, "The request body can not be decoded as JSON."),
        certifier(
            "validation_error", 400,
            "This usually occurs because of a missing or malformed parameter. Check the documentation and the syntax"
                + " of your request and try again."
        ),
        certifier(
            "unauthorized", 401,
            "A valid authentication token was not provided with the request, so the API could not associate a user"
                + " with the request."
        ),
        certifier(
            "payment_required", 402,
            "The request was valid, but the queried object or object mutation specified in the request is only"
                + " available to premium organizations and workspaces."
        ),
        certifier(
            "forbidden", 403,
            "The authentication and request syntax was valid but the server is refusing to complete the request."
                + " This can happen if you try to read or write to objects or properties that the user does not"
                + " have access to."
        ),
        certifier(
            "not_found", 404,
            "Either the request method and path supplied do not specify a known action in the API, or the object"
                + " specified by the request does not exist."
        ),
        certifier(
            "conflict", 409,
            "The request could not be completed, potentially due to a data collision. Make sure the parameters are"
                + " up to date and try again."
        ),
        certifier(
            "rate_limited", 429,
            "You have exceeded one of the enforced rate limits in the API. See the documentation on rate limiting"
                + " for more information."
        ),
        certifier("internal_server_error", 500, "There was a problem on Certifier's end."),
        // The page's example body, verbatim apart from the closing braces it leaves out.
        VendorErrorExample(
            vendor: "certifier", name: "bad_request", status: 400,
            body: """
                {
                  "error": {
                    "code": "bad_request",
                    "message": "An english description of the error that just occurred"
                  }
                }
                """,
            isVerbatim: true
        ),
    ]

    // MARK: Docyard (002): NestJS style, `{statusCode, message: string | [string], error}`.

    private static func docyard(
        _ name: String,
        _ status: Int,
        _ message: String,
        _ reason: String,
        headers: [(name: String, value: String)] = []
    ) -> VendorErrorExample {
        VendorErrorExample(
            vendor: "docyard", name: name, status: status, headers: headers,
            body: #"{"statusCode":\#(status),"message":"\#(message)","error":"\#(reason)"}"#, isVerbatim: false
        )
    }

    private static let docyardErrors: [VendorErrorExample] = [
        VendorErrorExample(
            vendor: "docyard", name: "bad_request", status: 400,
            body: """
                {
                  "statusCode": 400,
                  "message": "Domain 'example.com' is already registered to another dock",
                  "error": "Bad Request"
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "docyard", name: "validation", status: 400,
            body: """
                {
                  "statusCode": 400,
                  "message": [
                    "name must be a string",
                    "email must be an email"
                  ],
                  "error": "Bad Request"
                }
                """,
            isVerbatim: true
        ),
        docyard("unauthorized", 401, "Missing or invalid API key", "Unauthorized"),
        docyard("forbidden", 403, "Key lacks permission for this dock", "Forbidden"),
        docyard("not_found", 404, "Dock not found", "Not Found"),
        docyard(
            "conflict", 409, "A recipient with email 'jane@example.com' already exists in this dock", "Conflict"
        ),
        docyard(
            "unprocessable_entity", 422, "Policy cannot be applied to an archived dock", "Unprocessable Entity"
        ),
        docyard(
            "rate_limited", 429, "ThrottlerException: Too Many Requests", "Too Many Requests",
            headers: [("Retry-After", "2")]
        ),
        docyard("internal_server_error", 500, "Internal server error", "Internal Server Error"),
        docyard(
            "service_unavailable", 503, "Service temporarily unavailable", "Service Unavailable",
            headers: [("Retry-After", "5")]
        ),
    ]

    // MARK: Dokai (003): `{error:{code, message, type, suggestions}}` with X-RateLimit-* on every response.

    /// The rate-limit headers Dokai sends on every response (the page's example values, reset in a minute).
    static let dokaiRateLimitHeaders: [(name: String, value: String)] = [
        ("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "42"), ("X-RateLimit-Reset", "{unix+60}"),
    ]

    /// The quota headers Dokai sends on parse responses.
    static let dokaiQuotaHeaders: [(name: String, value: String)] = [
        ("X-Quota-Limit", "1000"), ("X-Quota-Remaining", "958"), ("X-Quota-Reset", "{unix+1209600}"),
    ]

    private static func dokai(
        _ code: String,
        _ status: Int,
        _ type: String,
        _ message: String,
        _ suggestions: [String],
        headers: [(name: String, value: String)] = dokaiRateLimitHeaders
    ) -> VendorErrorExample {
        let list = suggestions.map { #""\#($0)""# }.joined(separator: ",")
        return VendorErrorExample(
            vendor: "dokai", name: code, status: status, headers: headers,
            body: #"{"error":{"code":"\#(code)","message":"\#(message)","type":"\#(type)","suggestions":[\#(list)]}}"#,
            isVerbatim: false
        )
    }

    private static let dokaiErrors: [VendorErrorExample] = [
        dokai(
            "invalid_api_key", 401, "authentication_error", "API key is missing, malformed, or revoked.",
            ["Send the key as 'Authorization: Bearer dk_live_...'", "Create a new key in the dashboard"]
        ),
        dokai(
            "key_expired", 401, "authentication_error", "API key has been rotated or expired.",
            ["Use the newest key from the dashboard"]
        ),
        dokai("unauthorized", 401, "authentication_error", "Authentication failed.", ["Check your API key"]),
        dokai(
            "forbidden", 403, "permission_error", "Key does not have permission for this action.",
            ["Grant the key the required permission"]
        ),
        dokai("not_found", 404, "not_found_error", "Requested resource does not exist.", ["Check the resource ID"]),
        dokai(
            "result_expired", 410, "not_found_error", "Parse result has been purged after retention period.",
            ["Parse the document again"]
        ),
        dokai(
            "validation_error", 422, "validation_error", "Request parameters failed validation.",
            ["Check the request parameters against the API reference"]
        ),
        VendorErrorExample(
            vendor: "dokai", name: "invalid_file_type", status: 422, headers: dokaiRateLimitHeaders,
            body: """
                {
                "error": {
                "code": "invalid_file_type",
                "message": "The uploaded file is not a supported image format.",
                "type": "validation_error",
                "suggestions": [
                "Upload a JPEG, PNG, or WebP image",
                "Ensure the file is not corrupted",
                "Check that the Content-Type header matches the file"
                ]
                }
                }
                """,
            isVerbatim: true
        ),
        dokai(
            "file_too_large", 422, "validation_error", "File exceeds the 10 MB size limit.",
            ["Compress or resize the image below 10 MB"]
        ),
        dokai(
            "invalid_document_type", 422, "validation_error", "Unrecognized document_type value.",
            ["Use one of the documented document_type values"]
        ),
        dokai(
            "invalid_document_brand", 422, "validation_error", "Unrecognized document_brand value.",
            ["Use one of the documented document_brand values"]
        ),
        dokai(
            "webhook_invalid_url", 422, "validation_error", "webhook_url must use HTTPS or is malformed.",
            ["Use an https:// URL for webhook_url"]
        ),
        dokai(
            "webhook_domain_not_allowed", 422, "validation_error",
            "webhook_url domain is not in your allowed webhook domains.",
            ["Add the domain to your allowed webhook domains"]
        ),
        dokai(
            "quota_exceeded", 429, "rate_limit_error", "Monthly parse quota has been reached.",
            ["Wait for the billing period to reset", "Upgrade your plan"],
            headers: dokaiRateLimitHeaders + [
                ("X-Quota-Limit", "1000"), ("X-Quota-Remaining", "0"), ("X-Quota-Reset", "{unix+1209600}"),
            ]
        ),
        dokai(
            "rate_limited", 429, "rate_limit_error", "Too many requests — slow down.",
            ["Wait until X-RateLimit-Reset before retrying"],
            headers: [
                ("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "{unix+30}"),
            ]
        ),
        dokai(
            "processing_failed", 500, "api_error", "Document could not be processed.",
            ["Retry with a clearer image"]
        ),
        dokai("ocr_failed", 500, "api_error", "OCR engine failed to extract text.", ["Retry the request"]),
        dokai("internal_error", 500, "api_error", "Unexpected server error.", ["Retry after a short delay"]),
    ]

    // MARK: stemp (004): `{code, params}`, STANDARD_VALIDATION, CUSTOM_VALIDATION, OAuth2.

    private static func stempOAuth(_ error: String, _ status: Int, _ description: String) -> VendorErrorExample {
        var headers: [(name: String, value: String)] = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        if status == 401 {
            headers.append(("WWW-Authenticate", #"Basic realm="stemp""#))
        }
        return VendorErrorExample(
            vendor: "stemp", name: "oauth_" + error, status: status, headers: headers,
            body: #"{"error":"\#(error)","error_description":"\#(description)"}"#, isVerbatim: false
        )
    }

    private static let stempErrors: [VendorErrorExample] = [
        VendorErrorExample(
            vendor: "stemp", name: "resource_not_found", status: 404,
            body: """
                {
                "code": "resource_not_found",
                "params": null
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "stemp", name: "wrong_param_type", status: 400,
            body: """
                {
                "code": "wrong_param_type",
                "params": ["userId"]
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "stemp", name: "access_denied", status: 403,
            body: """
                {
                "code": "access_denied",
                "message": "Insufficient scope: requires pass:create"
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "stemp", name: "invitation_already_exists", status: 409,
            body: """
                {
                "code": "invitation_already_exists",
                "params": null
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "stemp", name: "standard_validation", status: 422,
            body: """
                {
                "STANDARD_VALIDATION": {
                "email": "must be a valid email address",
                "name": "must not be blank"
                }
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "stemp", name: "standard_validation_lengths", status: 422,
            body: """
                {
                "STANDARD_VALIDATION": {
                "email": "must not be blank",
                "name": "must be at most 150 characters"
                }
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "stemp", name: "custom_validation", status: 422,
            body: """
                {
                "CUSTOM_VALIDATION": {
                "email_already_exists": ["jane@example.com"]
                }
                }
                """,
            isVerbatim: true
        ),
        VendorErrorExample(
            vendor: "stemp", name: "unauthorized", status: 401,
            body: #"{"code":"unauthorized","params":null}"#, isVerbatim: false
        ),
        VendorErrorExample(
            vendor: "stemp", name: "rate_limited", status: 429, headers: [("Retry-After", "5")],
            body: #"{"code":"too_many_requests","params":null}"#, isVerbatim: false
        ),
        VendorErrorExample(
            vendor: "stemp", name: "server", status: 500,
            body: #"{"code":"internal_error","params":null}"#, isVerbatim: false
        ),
        VendorErrorExample(
            vendor: "stemp", name: "oauth_invalid_grant", status: 400,
            headers: [("Cache-Control", "no-store"), ("Pragma", "no-cache")],
            body: """
                {
                "error": "invalid_grant",
                "error_description": "Authorization code is expired or already used"
                }
                """,
            isVerbatim: true
        ),
        stempOAuth("invalid_request", 400, "Missing or invalid parameters"),
        stempOAuth("invalid_client", 401, "Invalid client ID or secret"),
        stempOAuth("invalid_scope", 400, "Requested scope is not allowed for this app"),
        stempOAuth("unauthorized_client", 400, "Client not authorized for this grant type"),
    ]
}
