import ErrorNormalization
import GatewayCore
import HTTPTypes
import NIOCore

/// Builds normalizer inputs for the tests.
enum Fixture {
    static let now = 1_741_276_000

    static func context(
        upstream name: String = "vendor", dialect: DialectSetting = .auto, codes: [String: ErrorCode] = [:],
        expose: ErrorsConfiguration.ExposeUpstreamMessages = .clientErrors, bodyLimit: Int = 64 * 1024
    ) -> NormalizationContext {
        let upstream = UpstreamConfiguration(
            name: name, url: UpstreamURL(scheme: .https, host: "api.example.com"), dialect: dialect, codes: codes)
        return NormalizationContext(
            upstream: upstream, instance: "/vendor/things", requestID: "req-1", expose: expose,
            nowUnixSeconds: Self.now, bodyLimit: bodyLimit)
    }

    static func headers(_ pairs: [(String, String)] = [("Content-Type", "application/json")]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return fields
    }

    static func normalize(
        _ status: Int, _ body: String, headers: HTTPFields = Fixture.headers(),
        context: NormalizationContext = Fixture.context(), complete: Bool = true
    ) -> ProblemDocument {
        ErrorNormalizer().normalize(
            status: status, headers: headers, body: ByteBuffer(string: body), bodyComplete: complete, context: context)
    }

    static func normalize(
        _ status: Int, bytes: [UInt8], headers: HTTPFields = Fixture.headers(),
        context: NormalizationContext = Fixture.context(), complete: Bool = true
    ) -> ProblemDocument {
        ErrorNormalizer().normalize(
            status: status, headers: headers, body: ByteBuffer(bytes: bytes), bodyComplete: complete, context: context)
    }
}
