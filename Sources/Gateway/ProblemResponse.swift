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
        var headers = extraHeaders
        headers.reserveCapacity(headers.count + 6)
        headers.replaceOrAdd(name: "content-type", value: Self.contentType(accept: accept))
        headers.replaceOrAdd(name: "x-request-id", value: document.requestID)
        headers.replaceOrAdd(name: "date", value: DateHeader.now())
        headers.replaceOrAdd(name: "cache-control", value: "no-store")
        if let retryAfter = document.retryAfter {
            headers.replaceOrAdd(name: "retry-after", value: String(retryAfter))
        }
        return ServerResponse(status: HTTPResponseStatus(statusCode: document.status), headers: headers, body: buffer)
    }
}
