/// The canonical error envelope: one RFC 9457 problem document with the gateway's extension members
/// (SPEC section 3).
///
/// Every error response that leaves the gateway is one of these, whether the gateway made it (`source: gateway`)
/// or rewrote an upstream's error (`source: upstream`). ``render(typeBase:)`` is the only serializer, so the wire
/// form cannot drift between the places that produce errors.
public struct ProblemDocument: Sendable, Equatable {
    /// Who produced the error.
    public enum Source: String, Sendable {
        case gateway
        case upstream
    }

    /// What the envelope says about the upstream involved.
    public struct UpstreamInfo: Sendable, Equatable {
        /// The upstream's name in the config.
        public var name: String
        /// Its HTTP status, or nil when it sent no response (refused, timeout, garbage).
        public var status: Int?
        /// Its own machine-readable code, or nil.
        public var code: String?
        /// The dialect that read its body, or nil when there was no body to read.
        public var dialect: String?

        public init(name: String, status: Int? = nil, code: String? = nil, dialect: String? = nil) {
            self.name = name
            self.status = status
            self.code = code
            self.dialect = dialect
        }
    }

    /// One field-level error (`errors[]`).
    public struct FieldError: Sendable, Equatable {
        public var detail: String
        /// JSON Pointer into the request body, as a URI fragment (`#/email`).
        public var pointer: String?
        /// The vendor's name for the field.
        public var field: String?
        public var code: String?
        public var params: [JSONValue]?

        public init(
            detail: String, pointer: String? = nil, field: String? = nil, code: String? = nil,
            params: [JSONValue]? = nil
        ) {
            self.detail = detail
            self.pointer = pointer
            self.field = field
            self.code = code
            self.params = params
        }
    }

    public var code: ErrorCode
    /// The HTTP status sent.
    public var status: Int
    public var title: String
    public var detail: String
    /// The request path without its query.
    public var instance: String
    public var retryable: Bool
    public var requestID: String
    public var source: Source
    public var upstream: UpstreamInfo?
    public var errors: [FieldError]
    /// Whole seconds until a retry may succeed, mirrored in the `Retry-After` header.
    public var retryAfter: Int?
    public var suggestions: [String]?
    public var params: [JSONValue]?

    /// Creates an envelope whose title, detail, status and retryability default to the code's.
    public init(
        code: ErrorCode,
        status: Int? = nil,
        detail: String? = nil,
        instance: String,
        requestID: String,
        source: Source,
        upstream: UpstreamInfo? = nil,
        errors: [FieldError] = [],
        retryAfter: Int? = nil,
        suggestions: [String]? = nil,
        params: [JSONValue]? = nil
    ) {
        self.code = code
        self.status = status ?? code.typicalStatus
        self.title = code.title
        self.detail = detail ?? code.neutralDetail
        self.instance = instance
        self.retryable = code.isRetryable
        self.requestID = requestID
        self.source = source
        self.upstream = upstream
        self.errors = errors
        self.retryAfter = retryAfter
        self.suggestions = suggestions
        self.params = params
    }

    /// The JSON document, members in the SPEC's order.
    /// - Parameter typeBase: prefix of the RFC 9457 `type` URI (`errors.type_base`).
    public func render(typeBase: String) -> [UInt8] {
        var json = JSONWriter(reservingCapacity: 384 + self.detail.utf8.count + self.errors.count * 96)
        json.raw("{\"type\":")
        json.string(typeBase + self.code.rawValue)
        json.raw(",\"title\":")
        json.string(self.title)
        json.raw(",\"status\":")
        json.int(self.status)
        json.raw(",\"detail\":")
        json.string(self.detail)
        json.raw(",\"instance\":")
        json.string(self.instance)
        json.raw(",\"code\":")
        json.string(self.code.rawValue)
        json.raw(",\"retryable\":")
        json.raw(self.retryable ? "true" : "false")
        json.raw(",\"request_id\":")
        json.string(self.requestID)
        json.raw(",\"source\":")
        json.string(self.source.rawValue)
        if let upstream = self.upstream {
            json.raw(",\"upstream\":{\"name\":")
            json.string(upstream.name)
            json.raw(",\"status\":")
            if let status = upstream.status { json.int(status) } else { json.raw("null") }
            json.raw(",\"code\":")
            if let code = upstream.code { json.string(code) } else { json.raw("null") }
            json.raw(",\"dialect\":")
            if let dialect = upstream.dialect { json.string(dialect) } else { json.raw("null") }
            json.raw("}")
        }
        if let retryAfter = self.retryAfter {
            json.raw(",\"retry_after\":")
            json.int(retryAfter)
        }
        if !self.errors.isEmpty {
            json.raw(",\"errors\":[")
            for (index, error) in self.errors.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw("{")
                var first = true
                func key(_ name: StaticString) {
                    if !first { json.raw(",") }
                    first = false
                    json.raw(name)
                }
                if let pointer = error.pointer {
                    key("\"pointer\":")
                    json.string(pointer)
                }
                if let field = error.field {
                    key("\"field\":")
                    json.string(field)
                }
                key("\"detail\":")
                json.string(error.detail)
                if let code = error.code {
                    key("\"code\":")
                    json.string(code)
                }
                if let params = error.params {
                    key("\"params\":")
                    json.value(.array(params))
                }
                json.raw("}")
            }
            json.raw("]")
        }
        if let suggestions = self.suggestions {
            json.raw(",\"suggestions\":")
            json.value(.array(suggestions.map { .string($0) }))
        }
        if let params = self.params {
            json.raw(",\"params\":")
            json.value(.array(params))
        }
        json.raw("}")
        return json.bytes
    }
}
