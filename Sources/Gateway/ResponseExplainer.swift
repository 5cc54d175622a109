import ErrorNormalization
import GatewayConfig
public import GatewayCore
import NIOCore

/// `gateway explain`: what the gateway would send for one upstream response, and why, member by member.
///
/// The response is read as text (``HTTPResponseText``). With a config and an upstream name, that upstream's
/// dialect, `codes:` table, `errors_in_success` and the config's `errors:` section apply, exactly as in `serve`;
/// without, `dialect: auto` and the default exposure rules.
public struct ResponseExplainer: Sendable {
    /// Why the explainer could not run, said to the operator as is.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public var configuration: GatewayConfiguration?
    public var upstreamName: String?
    /// The clock for `Retry-After` dates and reset timestamps.
    public var nowUnixSeconds: Int

    public init(configuration: GatewayConfiguration?, upstreamName: String?, nowUnixSeconds: Int) {
        self.configuration = configuration
        self.upstreamName = upstreamName
        self.nowUnixSeconds = nowUnixSeconds
    }

    /// Loads the config at `configPath` (when given) as `serve` would.
    /// - Throws: ``Failure`` listing every problem of a bad config, one per line.
    public init(
        configPath: String?, environment: [String: String], upstreamName: String?, nowUnixSeconds: Int
    ) throws(Failure) {
        var configuration: GatewayConfiguration?
        if let configPath {
            do {
                configuration = try GatewayApplication.configLoader(environment: environment).load(path: configPath)
            } catch {
                throw Failure(description: error.problems.map(\.description).joined(separator: "\n"))
            }
        }
        self.init(configuration: configuration, upstreamName: upstreamName, nowUnixSeconds: nowUnixSeconds)
    }

    /// The envelope (as the client would receive it, pretty-printed) and the decision trace.
    public func explain(_ input: [UInt8]) throws(Failure) -> String {
        let response: HTTPResponseText
        do {
            response = try HTTPResponseText(parsing: input)
        } catch {
            throw Failure(description: "not an HTTP response: \(error)")
        }
        let upstream = try self.upstream()
        let errors = self.configuration?.errors ?? ErrorsConfiguration()
        let context = NormalizationContext(
            upstream: upstream, instance: "/", requestID: "explain", expose: errors.exposeUpstreamMessages,
            nowUnixSeconds: self.nowUnixSeconds)
        let (envelope, explanation) = ErrorNormalizer().explain(
            status: response.status, headers: response.headers, body: ByteBuffer(bytes: response.body),
            bodyComplete: true, context: context)
        var output = ""
        if explanation.passesThrough {
            output += "passes through: \(response.status) is not rewritten\n"
        } else {
            var head = "HTTP/1.1 \(envelope.status)\nContent-Type: application/problem+json\n"
            if let retryAfter = envelope.retryAfter { head += "Retry-After: \(retryAfter)\n" }
            let rendered = envelope.render(typeBase: errors.typeBase)
            output += head + "\n" + PrettyJSON.format(rendered) + "\n"
        }
        output += "\nwhy:\n"
        let width = explanation.lines.map(\.member.count).max() ?? 0
        for line in explanation.lines {
            output +=
                "  " + line.member + String(repeating: " ", count: width - line.member.count) + "  "
                + line.reason + "\n"
        }
        return output
    }

    private func upstream() throws(Failure) -> UpstreamConfiguration {
        guard let configuration = self.configuration else {
            if let name = self.upstreamName {
                throw Failure(description: "--upstream \(name) needs --config: the upstreams are defined there")
            }
            return UpstreamConfiguration(name: "upstream", url: UpstreamURL(scheme: .https, host: "upstream.invalid"))
        }
        let names = configuration.upstreams.keys.sorted()
        if let name = self.upstreamName {
            guard let upstream = configuration.upstreams[name] else {
                throw Failure(
                    description: "no upstream named '\(name)' in the config; it has: \(names.joined(separator: ", "))")
            }
            return upstream
        }
        if names.count == 1, let only = configuration.upstreams[names[0]] { return only }
        throw Failure(
            description: "the config has several upstreams; name one with --upstream (\(names.joined(separator: ", ")))"
        )
    }
}

/// Indents compact JSON for a person to read; strings and numbers are copied as they are.
enum PrettyJSON {
    static func format(_ compact: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(compact.count * 2)
        var depth = 0
        var inString = false
        var escaped = false
        func newline() {
            output.append(0x0A)
            output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: depth * 2))
        }
        for (index, byte) in compact.enumerated() {
            if inString {
                output.append(byte)
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                output.append(byte)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                output.append(byte)
                let next = index + 1 < compact.count ? compact[index + 1] : 0
                if next != UInt8(ascii: "}") && next != UInt8(ascii: "]") {
                    depth += 1
                    newline()
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                let previous = index > 0 ? compact[index - 1] : 0
                if previous != UInt8(ascii: "{") && previous != UInt8(ascii: "[") {
                    depth -= 1
                    newline()
                }
                output.append(byte)
            case UInt8(ascii: ","):
                output.append(byte)
                newline()
            case UInt8(ascii: ":"):
                output += [byte, UInt8(ascii: " ")]
            default:
                output.append(byte)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
