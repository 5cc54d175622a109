import GatewayCore
import HTTPTypes

/// What an error response's headers say about the error, whatever its body: a Bearer challenge (RFC 6750 section
/// 3), a spent rate-limit or quota window, and a code some vendors put in a header (AWS `x-amzn-ErrorType`).
enum HeaderSignals {
    /// The `error` and `error_description` of a `WWW-Authenticate: Bearer …` challenge.
    struct BearerChallenge: Equatable {
        var error: String
        var description: String?
    }

    static let wwwAuthenticate = HTTPField.Name("WWW-Authenticate")!
    static let amazonErrorType = HTTPField.Name("x-amzn-ErrorType")!

    /// The code the headers imply, and why; nil when they say nothing beyond the status.
    static func classify(status: Int, headers: HTTPFields) -> (code: ErrorCode, rule: Classifier.Rule)? {
        if let challenge = Self.bearerChallenge(headers), let code = OAuth2Dialect.code(for: challenge.error) {
            return (code, .bearerChallenge(error: challenge.error))
        }
        // On a 429 the status already says so; on other statuses a spent window only explains a refusal (a 404
        // that happened to use the last token is still a 404).
        guard status == 400 || status == 403 else { return nil }
        for field in headers {
            let name = field.name.canonicalName
            guard Self.isZero(field.value) else { continue }
            if name.contains("quota") && name.hasSuffix("remaining") {
                return (.quotaExceeded, .rateLimitHeaders(field: field.name.rawName))
            }
            if (name.contains("ratelimit") || name.contains("rate-limit")) && name.contains("remaining") {
                return (.rateLimited, .rateLimitHeaders(field: field.name.rawName))
            }
        }
        if let value = headers.value(of: .rateLimit), RetryHint.rateLimitField(value) != nil {
            return (.rateLimited, .rateLimitHeaders(field: "RateLimit"))
        }
        return nil
    }

    /// Seconds until a spent window resets, from the rate-limit header families beyond the standard ones
    /// (`RateLimit-Reset` of the IETF drafts, Okta's `X-Rate-Limit-Reset`, Sentry's `X-Sentry-Rate-Limit-Reset`,
    /// OpenAI's `x-ratelimit-reset-tokens: 6m0s`): the `…reset…` sibling of a `…remaining…` field at 0 (or of any,
    /// on a 429). Values are Unix time, seconds from now, or a duration such as `1s`, `6ms`, `1m30s`.
    static func rateLimitReset(status: Int, headers: HTTPFields, nowUnixSeconds: Int) -> (seconds: Int, field: String)?
    {
        var best: (seconds: Int, field: String)?
        for field in headers {
            let name = field.name.canonicalName
            guard name.contains("ratelimit") || name.contains("rate-limit"), name.contains("remaining") else {
                continue
            }
            guard status == 429 || Self.isZero(field.value) else { continue }
            let resetName = name.replacingFirst("remaining", with: "reset")
            guard let resetField = HTTPField.Name(resetName), let value = headers[resetField] else { continue }
            let seconds = RetryHint.reset(value, nowUnixSeconds: nowUnixSeconds) ?? Self.duration(value)
            guard let seconds else { continue }
            // Of several spent windows, the client waits for the longest.
            if Self.isZero(field.value), best == nil || seconds > best!.seconds {
                best = (seconds, resetField.rawName)
            } else if best == nil {
                best = (seconds, resetField.rawName)
            }
        }
        return best
    }

    /// Whole seconds, rounded up, of a Go-style duration (`6m0s`, `1.5s`, `20ms`), or nil.
    static func duration(_ text: String) -> Int? {
        var total = 0.0
        var number = ""
        var index = text.startIndex
        var sawUnit = false
        while index < text.endIndex {
            let character = text[index]
            if character.isASCII, character.isNumber || character == "." {
                number.append(character)
                index = text.index(after: index)
                continue
            }
            guard let value = Double(number), value.isFinite else { return nil }
            let rest = text[index...]
            let scale: Double
            if rest.hasPrefix("ms") {
                scale = 0.001
                index = text.index(index, offsetBy: 2)
            } else if character == "h" {
                scale = 3600
                index = text.index(after: index)
            } else if character == "m" {
                scale = 60
                index = text.index(after: index)
            } else if character == "s" {
                scale = 1
                index = text.index(after: index)
            } else {
                return nil
            }
            total += value * scale
            number = ""
            sawUnit = true
        }
        guard sawUnit, number.isEmpty, total < 1e9 else { return nil }
        return Int(total.rounded(.up))
    }

    /// The first Bearer challenge that carries an `error` parameter.
    static func bearerChallenge(_ headers: HTTPFields) -> BearerChallenge? {
        for value in headers[values: Self.wwwAuthenticate] {
            var rest = Substring(value)
            while let range = Self.range(ofCaseInsensitive: "bearer", in: rest) {
                let parameters = Self.authParameters(rest[range.upperBound...])
                if let error = parameters["error"], !error.isEmpty {
                    return BearerChallenge(error: error, description: parameters["error_description"])
                }
                rest = rest[range.upperBound...]
            }
        }
        return nil
    }

    /// A vendor code sent in a header: AWS's `x-amzn-ErrorType: ResourceNotFoundException:http://…`.
    static func vendorCode(_ headers: HTTPFields) -> String? {
        guard let value = headers.value(of: Self.amazonErrorType) else { return nil }
        let code = value.split(separator: ":", maxSplits: 1).first.map { String($0) } ?? ""
        return code.isEmpty ? nil : code
    }

    /// `name=token` and `name="quoted string"` parameters up to the next challenge, names lowercased.
    static func authParameters(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var index = text.startIndex
        func skip(_ characters: Set<Character>) {
            while index < text.endIndex, characters.contains(text[index]) { index = text.index(after: index) }
        }
        while index < text.endIndex {
            skip([" ", "\t", ","])
            let nameStart = index
            while index < text.endIndex, text[index] != "=", text[index] != " ", text[index] != "," {
                index = text.index(after: index)
            }
            let name = text[nameStart..<index].lowercased()
            skip([" ", "\t"])
            guard index < text.endIndex, text[index] == "=" else {
                // A bare token after parameters starts the next challenge.
                if !result.isEmpty { break }
                continue
            }
            index = text.index(after: index)
            skip([" ", "\t"])
            var value = ""
            if index < text.endIndex, text[index] == "\"" {
                index = text.index(after: index)
                while index < text.endIndex, text[index] != "\"" {
                    if text[index] == "\\" {
                        index = text.index(after: index)
                        guard index < text.endIndex else { break }
                    }
                    value.append(text[index])
                    index = text.index(after: index)
                }
                if index < text.endIndex { index = text.index(after: index) }
            } else {
                let valueStart = index
                while index < text.endIndex, text[index] != ",", text[index] != " " { index = text.index(after: index) }
                value = String(text[valueStart..<index])
            }
            if result[name] == nil { result[name] = value }
        }
        return result
    }

    static func isZero(_ value: String) -> Bool {
        let trimmed = Substring(value).trimmingASCIIWhitespace()
        return trimmed == "0" || trimmed == "0.0"
    }

    private static func range(ofCaseInsensitive word: String, in text: Substring) -> Range<Substring.Index>? {
        var index = text.startIndex
        while index < text.endIndex {
            var probe = index
            var matched = true
            for letter in word {
                guard probe < text.endIndex, text[probe].lowercased() == String(letter) else {
                    matched = false
                    break
                }
                probe = text.index(after: probe)
            }
            let startsWord =
                index == text.startIndex || text[text.index(before: index)] == " "
                || text[text.index(before: index)] == ","
            if matched, startsWord { return index..<probe }
            index = text.index(after: index)
        }
        return nil
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        self.replacing(target, with: replacement, maxReplacements: 1)
    }
}
