// libFuzzer entry point for the error normalizer: the first byte picks status, dialect and encoding header, the
// rest is the body. Any trap or ASan report is a bug; the rendered envelope must also parse back as JSON.
import GatewayCore
import HTTPTypes
import NIOCore

private let dialects: [DialectSetting] = [
    .auto, .builtin("problem_json"), .builtin("nested_error"), .builtin("laravel"), .builtin("nestjs"),
    .builtin("field_map"), .builtin("oauth2"), .builtin("jsonapi"), .builtin("graphql"), .builtin("google"),
    .builtin("dokai"), .builtin("stemp"),
    .mapping(
        DialectMapping(
            code: "/fault/code", message: "/fault/message",
            errors: "/fault/violations", errorField: "/name", errorMessage: "/reason", errorCode: "/type")),
    .builtin("certifier"), .builtin("docyard"), .builtin("dokstamp"), .builtin("generic"),
]
private let statuses = [400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504, 410, 402, 412, 200, 418]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let body = ByteBuffer(bytes: UnsafeBufferPointer(start: data + 1, count: size - 1))
    var headers = HTTPFields()
    headers[.contentType] = selector & 0x40 != 0 ? "text/html; charset=iso-8859-1" : "application/json"
    if selector & 0x80 != 0 { headers[.contentEncoding] = "gzip" }
    headers[.retryAfter] = selector & 0x20 != 0 ? "Sun, 06 Nov 1994 08:49:37 GMT" : "3"
    let upstream = UpstreamConfiguration(
        name: "fuzz", url: UpstreamURL(scheme: .https, host: "example.com"),
        dialect: dialects[Int(selector >> 4) % dialects.count])
    let context = NormalizationContext(
        upstream: upstream, instance: "/x", requestID: "r", expose: .all, nowUnixSeconds: 1_700_000_000,
        bodyLimit: 4096)
    let status = statuses[Int(selector & 0x0F)]
    let normalizer = ErrorNormalizer()
    let document = normalizer.normalize(
        status: status, headers: headers, body: body, bodyComplete: selector & 1 == 0, context: context)
    precondition(document.status == status)
    precondition(JSONReader.parse(document.render(typeBase: "t:")) != nil)
    if let success = normalizer.normalizeSuccess(status: 200, headers: headers, body: body, context: context) {
        precondition(JSONReader.parse(success.render(typeBase: "t:")) != nil)
    }
    // The whole input as a response written out (`gateway explain`'s input): parsing it and explaining it must
    // never trap either, and the explained envelope must be the one `normalize` gives.
    if let response = try? HTTPResponseText(parsing: Array(UnsafeBufferPointer(start: data, count: size))) {
        let responseBody = ByteBuffer(bytes: response.body)
        let (explained, explanation) = normalizer.explain(
            status: response.status, headers: response.headers, body: responseBody, bodyComplete: true,
            context: context)
        if response.status >= 400 {
            let plain = normalizer.normalize(
                status: response.status, headers: response.headers, body: responseBody, bodyComplete: true,
                context: context)
            precondition(plain == explained)
            precondition(!explanation.lines.isEmpty)
        }
    }
    return 0
}
