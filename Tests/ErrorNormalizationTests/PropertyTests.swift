import ErrorNormalization
import GatewayCore
import GatewayTestSupport
import HTTPTypes
import NIOCore
import Testing

/// 2000 seeded random and mutated bodies: the normalizer always returns a valid envelope with the input status.
@Suite struct PropertyTests {
    static let seeds: [String] = [
        #"{"success": false, "message": "The given data was invalid.", "errors": {"email": ["The email field is required."]}}"#,
        #"{"error": {"code": "invalid_file_type", "message": "bad", "type": "validation_error", "suggestions": ["a"]}}"#,
        #"{"statusCode": 400, "message": ["name must be a string", "items.0.sku must be a string"], "error": "Bad Request"}"#,
        #"{"code": "wrong_param_type", "params": ["userId"]}"#,
        #"{"STANDARD_VALIDATION": {"email": "must not be blank"}}"#,
        #"{"CUSTOM_VALIDATION": {"email_already_exists": ["jane@example.com"]}}"#,
        #"{"error": "invalid_grant", "error_description": "expired"}"#,
        #"{"errors":[{"status":"422","detail":"x","source":{"pointer":"/data/a"}}]}"#,
        #"{"errors":[{"message":"m","extensions":{"code":"FORBIDDEN"}}],"data":null}"#,
        #"{"error":{"code":400,"message":"m","status":"INVALID_ARGUMENT","details":[{"@type":"x.BadRequest","fieldViolations":[{"field":"f","description":"d"}]}]}}"#,
        #"{"detail":[{"loc":["body","a"],"msg":"m","type":"t"}]}"#,
        "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>",
        "<html><head><title>Bad &amp; Gateway</title></head></html>",
        "plain text error\nline two",
    ]
    static let statuses = [400, 401, 403, 404, 409, 410, 422, 429, 500, 502, 503, 504]

    @Test func randomAndMutatedBodies() {
        var random = SplitMix64(seed: 0x5EED)
        let dialects: [DialectSetting] = [
            .auto, .builtin("dokai"), .builtin("stemp"), .builtin("laravel"),
            .mapping(DialectMapping(code: "/error/code", message: "/message")),
        ]
        for iteration in 0..<2000 {
            var body = Array(Self.seeds[Int(random.next() % UInt64(Self.seeds.count))].utf8)
            switch iteration % 5 {
            case 0:
                body = Array(body.prefix(Int(random.next() % UInt64(body.count + 1))))
            case 1:
                for _ in 0..<(1 + random.next() % 8) where !body.isEmpty {
                    body[Int(random.next() % UInt64(body.count))] = UInt8(truncatingIfNeeded: random.next())
                }
            case 2:
                let opener: UInt8 = random.next() % 2 == 0 ? UInt8(ascii: "[") : UInt8(ascii: "{")
                body =
                    [UInt8](repeating: opener, count: iteration % 10 == 2 ? 100_000 : Int(random.next() % 500))
                    + body
            case 3:
                body = (0..<Int(random.next() % 2048)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            default:
                let cut = Int(random.next() % UInt64(body.count + 1))
                body.insert(contentsOf: Array(#"{"a":[{"b":"\ud800","c":1e999}]}"#.utf8), at: cut)
            }
            let status = Self.statuses[iteration % Self.statuses.count]
            var headers = HTTPFields()
            headers[.contentType] = iteration % 7 == 0 ? "text/html" : "application/json"
            if iteration % 11 == 0 { headers[.contentEncoding] = "gzip" }
            let context = Fixture.context(
                dialect: dialects[iteration % dialects.count],
                expose: iteration % 3 == 0 ? .all : .clientErrors)
            let document = ErrorNormalizer().normalize(
                status: status, headers: headers, body: ByteBuffer(bytes: body), bodyComplete: iteration % 4 != 0,
                context: context)
            #expect(document.status == status)
            #expect(document.source == .upstream)
            #expect(document.detail.utf8.count <= 1024)
            let rendered = document.render(typeBase: "https://errors.gateway.dev/")
            guard let parsed = JSONReader.parse(rendered) else {
                Issue.record("render() is not valid JSON for iteration \(iteration)")
                continue
            }
            #expect(parsed["status"] == .number(String(status)))
            #expect(parsed["code"]?.stringValue == document.code.rawValue)
        }
    }
}
