/// The success responses of the five simulated vendors, and each one's own "no such endpoint" answer.
///
/// - dokstamp: `GET /certificates` (200 list), `POST /certificates` (201), `GET /certificates/{uuid}` (200),
///   `DELETE /certificates/{uuid}` (204).
/// - certifier: `GET /credentials` (200 list), `POST /credentials` (201), `GET /credentials/{id}` (200).
/// - docyard: `GET /docks` (200 list), `POST /docks` (201), `GET /docks/{id}` (200).
/// - dokai: `POST /v1/parse`, `POST /v1/validate`, `GET /v1/usage` (200); X-RateLimit-* on every response,
///   X-Quota-* on parse responses.
/// - stemp: `GET /v1/users` (200 list), `POST /v1/users` (201), `GET /v1/users/{id}` (200),
///   `POST /oauth/token` (200).
///
/// `HEAD` is answered like `GET`, without the body.
enum VendorEndpoints {
    /// A response without streaming: status, headers (besides framing) and the whole body.
    struct Answer: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        static func json(_ status: Int, _ body: String) -> Answer {
            Answer(status: status, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
        }
    }

    /// The vendor's answer to `method` on `rest` (the path after `/{vendor}`), or its 404.
    static func answer(vendor: String, method requestMethod: String, rest: String) -> Answer {
        let method = requestMethod == "HEAD" ? "GET" : requestMethod  // HEAD answers GET's head
        let segments = rest.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        switch vendor {
        case "dokstamp": return self.dokstamp(method: method, segments: segments) ?? self.notFound(vendor, method, rest)
        case "certifier":
            return self.certifier(method: method, segments: segments) ?? self.notFound(vendor, method, rest)
        case "docyard": return self.docyard(method: method, segments: segments) ?? self.notFound(vendor, method, rest)
        case "dokai": return self.dokai(method: method, segments: segments) ?? self.notFound(vendor, method, rest)
        case "stemp": return self.stemp(method: method, segments: segments) ?? self.notFound(vendor, method, rest)
        default: return self.notFound(vendor, method, rest)
        }
    }

    /// Each vendor's own 404 for an unknown path (Docyard's is NestJS's `Cannot METHOD /path`).
    static func notFound(_ vendor: String, _ method: String, _ rest: String) -> Answer {
        switch vendor {
        case "docyard":
            let message = "Cannot \(method) \(rest.isEmpty ? "/" : rest)"
            return .json(404, #"{"statusCode":404,"message":"\#(JSONText.escape(message))","error":"Not Found"}"#)
        case "dokstamp", "certifier", "dokai", "stemp":
            let name = vendor == "stemp" ? "resource_not_found" : "not_found"
            guard let example = VendorSimulator.errorExample(vendor: vendor, name: name) else {
                return .json(404, "{}")
            }
            return Answer(
                status: 404,
                headers: [("Content-Type", example.contentType)] + example.headers,
                body: Array(example.body.utf8)
            )
        default:
            let known = VendorSimulator.vendors.joined(separator: ", ")
            return Answer(
                status: 404,
                headers: [("Content-Type", "text/plain; charset=utf-8")],
                body: Array("vendor-sim: unknown vendor '\(vendor)'; known vendors: \(known)\n".utf8)
            )
        }
    }

    // MARK: Dokstamp

    private static let certificate = #"""
        {"uuid":"550e8400-e29b-41d4-a716-446655440000","student_uuid":"7c9e6679-7425-40de-944b-e07fc1f90ae7",\#
        "course_uuid":"16fd2706-8baf-433b-82eb-8c7fada847da","file_uuid":"9b2f1c3e-4d5a-4e6f-8a7b-1c2d3e4f5a6b",\#
        "status":"issued","issued_at":"2025-03-06T12:00:00Z"}
        """#

    private static func dokstamp(method: String, segments: [String]) -> Answer? {
        switch (method, segments.count) {
        case ("GET", 1) where segments[0] == "certificates":
            return .json(200, #"{"success":true,"data":[\#(self.certificate)]}"#)
        case ("POST", 1) where segments[0] == "certificates":
            return .json(201, #"{"success":true,"data":\#(self.certificate)}"#)
        case ("GET", 2) where segments[0] == "certificates":
            return .json(200, #"{"success":true,"data":\#(self.certificate)}"#)
        case ("DELETE", 2) where segments[0] == "certificates":
            return Answer(status: 204, headers: [], body: [])
        default:
            return nil
        }
    }

    // MARK: Certifier

    private static let credential = #"""
        {"id":"01j2xbmnp7g4j0000000000000","publicId":"a1b2c3d4","groupId":"01j2xbmnp7g4j0000000000001",\#
        "status":"issued","recipient":{"name":"Jane Doe","email":"jane@example.com"},\#
        "issueDate":"2025-03-06","expiryDate":null,"createdAt":"2025-03-06T12:00:00.000Z"}
        """#

    private static func certifier(method: String, segments: [String]) -> Answer? {
        switch (method, segments.count) {
        case ("GET", 1) where segments[0] == "credentials":
            return .json(
                200,
                #"{"object":"list","data":[\#(self.credential)],"pagination":{"next":null,"prev":null}}"#
            )
        case ("POST", 1) where segments[0] == "credentials":
            return .json(201, self.credential)
        case ("GET", 2) where segments[0] == "credentials":
            return .json(200, self.credential)
        default:
            return nil
        }
    }

    // MARK: Docyard

    private static let dock = #"""
        {"id":"dck_8f14e45fceea167a","name":"Main dock","domain":"example.com","createdAt":"2025-03-06T12:00:00.000Z"}
        """#

    private static func docyard(method: String, segments: [String]) -> Answer? {
        switch (method, segments.count) {
        case ("GET", 1) where segments[0] == "docks":
            return .json(200, #"{"data":[\#(self.dock)],"total":1}"#)
        case ("POST", 1) where segments[0] == "docks":
            return .json(201, self.dock)
        case ("GET", 2) where segments[0] == "docks":
            return .json(200, self.dock)
        default:
            return nil
        }
    }

    // MARK: Dokai

    private static func dokai(method: String, segments: [String]) -> Answer? {
        guard segments.first == "v1" else { return nil }
        switch (method, Array(segments.dropFirst())) {
        case ("POST", ["parse"]):
            return .json(
                200,
                #"""
                {"id":"prs_01HQ3K7Z9X","status":"completed","document_type":"ic","document_brand":"mykad",\#
                "fields":{"name":"TAN AH KOW","ic_number":"880503-14-5234","address":"JALAN 1, KUALA LUMPUR"},\#
                "confidence":0.97}
                """#
            )
        case ("POST", ["validate"]):
            return .json(200, #"{"valid":true,"type":"ic_number","value":"880503-14-5234","errors":[]}"#)
        case ("GET", ["usage"]):
            return .json(200, #"{"period":"2025-03","parses":42,"quota":1000}"#)
        default:
            return nil
        }
    }

    // MARK: stemp

    private static let user = #"""
        {"id":"usr_5f2b8c","email":"jane@example.com","name":"Jane Doe","role":"member",\#
        "createdAt":"2025-03-06T12:00:00Z"}
        """#

    private static func stemp(method: String, segments: [String]) -> Answer? {
        switch (method, segments) {
        case ("GET", ["v1", "users"]):
            return .json(200, #"{"data":[\#(self.user)],"page":0,"size":20,"total":1}"#)
        case ("POST", ["v1", "users"]):
            return .json(201, self.user)
        case ("GET", let path) where path.count == 3 && path[0] == "v1" && path[1] == "users":
            return .json(200, self.user)
        case ("POST", ["oauth", "token"]):
            return .json(
                200,
                #"""
                {"access_token":"stemp_at_3f9c2a","token_type":"Bearer","expires_in":3600,\#
                "refresh_token":"stemp_rt_7d1e4b","scope":"pass:create user:read"}
                """#
            )
        default:
            return nil
        }
    }
}

/// JSON text building for the simulator's generated bodies (no Foundation in this module).
enum JSONText {
    /// `text` escaped for use inside a JSON string literal (RFC 8259 section 7).
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// A quoted JSON string.
    static func quote(_ text: String) -> String {
        "\"" + self.escape(text) + "\""
    }

    /// Standard base64 with padding (RFC 4648 section 4).
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let first = bytes[index]
            let second = index + 1 < bytes.count ? bytes[index + 1] : 0
            let third = index + 2 < bytes.count ? bytes[index + 2] : 0
            output.append(alphabet[Int(first >> 2)])
            output.append(alphabet[Int((first & 0x03) << 4 | second >> 4)])
            let padding = UInt8(ascii: "=")
            output.append(index + 1 < bytes.count ? alphabet[Int((second & 0x0F) << 2 | third >> 6)] : padding)
            output.append(index + 2 < bytes.count ? alphabet[Int(third & 0x3F)] : padding)
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}
