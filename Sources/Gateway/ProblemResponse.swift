import GatewayCore
import GatewayHTTPServer
import NIOCore
import NIOHTTP1

/// Turns an envelope into the HTTP response that carries it: the one place where errors become HTTP
/// (STYLE.md, "Errors become HTTP in one place").
enum ProblemResponse {
    /// The envelope's media type, negotiated per SPEC section 3: `application/problem+json` unless the request's
    /// `Accept` names `application/json` and not `application/problem+json`.
    static func contentType(accept: [String]) -> String {
        var namesJSON = false
        for value in accept {
            for range in value.split(separator: ",") {
                let mediaType = range.split(separator: ";", maxSplits: 1)[0]
                let trimmed = mediaType.trimmingASCIIWhitespace().lowercased()
                if trimmed == "application/problem+json" { return "application/problem+json" }
                if trimmed == "application/json" { namesJSON = true }
            }
        }
        return namesJSON ? "application/json" : "application/problem+json"
    }

    /// The response for `document`, with `Content-Type`, `X-Request-ID`, `Date`, `Retry-After` (when known) and
    /// `Cache-Control: no-store` (an error is about this request, not the resource).
    static func make(
        _ document: ProblemDocument, typeBase: String, accept: [String], extraHeaders: HTTPHeaders = [:]
    ) -> ServerResponse {
        let bytes = document.render(typeBase: typeBase)
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        // The fields below replace any of the same name in `extraHeaders` (as `replaceOrAdd` would, each one a scan
        // of the whole list): the others are kept in their order, these follow.
        let replacesRetryAfter = document.retryAfter != nil
        var headers = HTTPHeaders()
        headers.reserveCapacity(extraHeaders.count + 5)
        for (name, value) in extraHeaders where !Self.isOwnField(name, includingRetryAfter: replacesRetryAfter) {
            headers.add(name: name, value: value)
        }
        headers.add(name: "content-type", value: Self.contentType(accept: accept))
        headers.add(name: "x-request-id", value: document.requestID)
        headers.add(name: "date", value: DateHeader.now())
        headers.add(name: "cache-control", value: "no-store")
        if let retryAfter = document.retryAfter {
            headers.add(name: "retry-after", value: String(retryAfter))
        }
        return ServerResponse(status: HTTPResponseStatus(statusCode: document.status), headers: headers, body: buffer)
    }

    /// Whether `make` writes a field of this name itself (`Retry-After` only when the envelope has a wait).
    private static func isOwnField(_ name: String, includingRetryAfter: Bool) -> Bool {
        let name = name.utf8
        return HTTPSyntax.equalsIgnoringCase(name, "content-type")
            || HTTPSyntax.equalsIgnoringCase(name, "x-request-id")
            || HTTPSyntax.equalsIgnoringCase(name, "date") || HTTPSyntax.equalsIgnoringCase(name, "cache-control")
            || (includingRetryAfter && HTTPSyntax.equalsIgnoringCase(name, "retry-after"))
    }
}
