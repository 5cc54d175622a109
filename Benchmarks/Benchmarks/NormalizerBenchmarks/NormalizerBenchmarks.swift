import Benchmark
import ErrorNormalization
import GatewayCore
import HTTPTypes
import NIOCore

/// Typical upstream error bodies of about 1 KiB, one per dialect family the seed vendors use.
enum Bodies {
    /// Dokstamp (Laravel): `{success, message, errors: {field: [messages]}}`, 13 fields, 16 messages.
    static let laravel = #"""
        {"success": false, "message": "The given data was invalid.", "errors": {"email": ["The email field is \#
        required.", "The email must be a valid email address."], "course_uuid": ["The selected course uuid is \#
        invalid."], "name": ["The name may not be greater than 255 characters."], "issued_at": ["The issued at is not \#
        a valid date.", "The issued at must be a date before tomorrow."], "tags.0": ["The tags.0 must be a string."], \#
        "template_id": ["The selected template id is invalid."], "recipient.phone": ["The recipient.phone format is \#
        invalid."], "recipient.address.postal_code": ["The recipient.address.postal code must be 5 characters."], \#
        "metadata": ["The metadata must be an array.", "The metadata may not have more than 20 items."], \#
        "expires_at": ["The expires at must be a date after issued at."], "locale": ["The selected locale is \#
        invalid."], "signature": ["The signature field is required when template id is present."], "password": ["The \#
        password must be at least 12 characters."]}}
        """#

    /// Dokai (nested error object): `{error: {code, message, type, suggestions: [...]}}`.
    static let nested = #"""
        {"error": {"code": "invalid_file_type", "message": "The uploaded file is not a supported image format. \#
        Accepted formats are JPEG, PNG and WebP, up to 10 MB, with at least 600 by 400 pixels.", "type": \#
        "validation_error", "param": "document_front", "doc_url": \#
        "https://docs.dokai.example/errors#invalid_file_type", "request_id": "req_7f3a9c2b1d4e5f60718293a4b5c6d7e8", \#
        "suggestions": ["Upload a JPEG, PNG, or WebP image", "Ensure the file is not corrupted", "Check that the \#
        Content-Type header matches the file", "Photograph the document on a dark, plain background", "Make sure all \#
        four corners of the document are visible", "Avoid glare and shadows on the document", "Retake the photo if \#
        the text is blurred", "Use the SDK's capture screen for automatic quality checks", "Compress images larger \#
        than 10 MB before uploading", "Crop the image to the document before uploading it", "Scan the document at 300 \#
        dpi if you use a flatbed scanner"]}}
        """#

    /// Docyard (NestJS, class-validator): `{statusCode, message: [strings], error}`, 21 messages.
    static let nestJSArray = #"""
        {"statusCode": 400, "message": ["name must be a string", "name should not be empty", "email must be an \#
        email", "items.0.sku must be a string", "items.0.quantity must be a positive number", "items.0.quantity must \#
        be an integer number", "items.1.sku must be a string", "items.1.price must not be less than 0", \#
        "address.street should not be empty", "address.city must be a string", "address.postalCode must match \#
        /^[0-9]{5}$/ regular expression", "address.country must be one of the following values: DE, FR, IT, ES, NL, \#
        BE", "phone must be a valid phone number", "dueDate must be a valid ISO 8601 date string", "currency must be \#
        one of the following values: EUR, USD, GBP", "notes must be shorter than or equal to 500 characters", "tags \#
        must contain no more than 10 elements", "webhookUrl must be a URL address", "items.1.sku should not be \#
        empty", "reference must be a string", "customerId must be a UUID"], "error": "Bad Request"}
        """#

    static let jsonHeaders: HTTPFields = [.contentType: "application/json"]

    static func context(_ name: String, dialect: DialectSetting) -> NormalizationContext {
        NormalizationContext(
            upstream: UpstreamConfiguration(
                name: name, url: UpstreamURL(scheme: .https, host: "api.\(name).example"), dialect: dialect),
            instance: "/\(name)/certificates", requestID: "01JD3Q2J6V8M4W1N0A9C7T5B2E", expose: .clientErrors,
            nowUnixSeconds: 1_741_276_000)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000
    )

    let normalizer = ErrorNormalizer()
    let cases: [(String, String, Int, DialectSetting)] = [
        ("Laravel (dokstamp)", Bodies.laravel, 422, .builtin("dokstamp")),
        ("Laravel (auto)", Bodies.laravel, 422, .auto),
        ("nested (dokai)", Bodies.nested, 422, .builtin("dokai")),
        ("NestJS array (docyard)", Bodies.nestJSArray, 400, .builtin("docyard")),
    ]
    for (label, text, status, dialect) in cases {
        let body = ByteBuffer(string: text)
        let context = Bodies.context("vendor", dialect: dialect)
        // The sample must be what it says: a readable error of about 1 KiB that yields field errors or a code.
        let probe = normalizer.normalize(
            status: status, headers: Bodies.jsonHeaders, body: body, bodyComplete: true, context: context)
        precondition((900...1124).contains(body.readableBytes), "\(label): \(body.readableBytes) bytes")
        precondition(probe.source == .upstream && probe.upstream?.dialect != nil, "\(label) was not recognised")

        Benchmark("normalize \(label) \(body.readableBytes) B") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(
                    normalizer.normalize(
                        status: status, headers: Bodies.jsonHeaders, body: body, bodyComplete: true, context: context))
            }
        }
    }

    // A short Laravel 422 read under `auto`, then its response made: the body bench/ab.sh's error upstream answered
    // until it took bench/run.sh's 1 KiB one of case e (a 1 KiB Laravel 422 is measured above, 989 B).
    let storm = ByteBuffer(
        string: #"{"message":"The given data was invalid.","errors":{"email":["The email field is required."]}}"#)
    let stormContext = Bodies.context("failing", dialect: .auto)
    Benchmark("normalize Laravel (auto) \(storm.readableBytes) B, a short 422") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(
                normalizer.normalize(
                    status: 422, headers: Bodies.jsonHeaders, body: storm, bodyComplete: true, context: stormContext
                ).render(typeBase: "https://errors.gateway.dev/"))
        }
    }

    let laravelDocument = normalizer.normalize(
        status: 422, headers: Bodies.jsonHeaders, body: ByteBuffer(string: Bodies.laravel), bodyComplete: true,
        context: Bodies.context("dokstamp", dialect: .builtin("dokstamp")))
    precondition(laravelDocument.errors.count == 16, "expected 16 field errors, got \(laravelDocument.errors.count)")
    Benchmark("ProblemDocument.render (16 field errors)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(laravelDocument.render(typeBase: "https://errors.gateway.dev/"))
        }
    }

    let gatewayDocument = ProblemDocument(
        code: .upstreamTimeout, instance: "/dokstamp/certificates", requestID: "01JD3Q2J6V8M4W1N0A9C7T5B2E",
        source: .gateway, upstream: .init(name: "dokstamp"))
    Benchmark("ProblemDocument.render (gateway-made, no errors)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(gatewayDocument.render(typeBase: "https://errors.gateway.dev/"))
        }
    }

    let laravelBytes = Array(Bodies.laravel.utf8)
    precondition(JSONReader.parse(laravelBytes) != nil)
    Benchmark("JSONReader.parse \(laravelBytes.count) B") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(JSONReader.parse(laravelBytes))
        }
    }
}
