import GatewayCore
public import NIOHTTP1

/// The RFC 9112 checks on a request head that SwiftNIO's parser does not make (NIO-AND-CURL-NOTES.md).
///
/// llhttp already refuses CL+TE, duplicate `Content-Length`, obs-fold, bare CR/LF/NUL and bad chunk sizes. What
/// is left is checked here, on the decoded head, before anything is forwarded:
/// - exactly one `Host` (RFC 9112 section 3.2: "A server MUST respond with a 400 … to any HTTP/1.1 request message
///   that lacks a Host header field and to any request message that contains more than one Host header field");
/// - `Transfer-Encoding` only as a lone final `chunked` (section 6.1: other codings are not implemented here → 501),
///   and never on HTTP/1.0 (section 6.1: a 1.0 message with it has faulty framing → 400);
/// - `CONNECT` refused (no tunnels; 501);
/// - an `Expect` other than `100-continue` → 417 (RFC 9110 section 10.1.1);
/// - an absolute-form target (section 3.2.2) is accepted only for `http`/`https` and must agree with `Host`;
///   a fragment in the target is refused;
/// - `Host` is `uri-host [ ":" port ]` (RFC 9110 section 7.2, RFC 3986 section 3.2): a reg-name, an IPv4 address or
///   a bracketed IP literal, then only digits after the colon; no space, `/`, `@` (userinfo) or anything else that
///   would make `X-Forwarded-Host`, logs or an upstream read another authority. Section 3.2: "A server MUST
///   respond with a 400 … to any request message that contains … a Host header field with an invalid field
///   value". An empty host is refused too: an `http` URI with an empty host is invalid (RFC 9110 section 4.2.1).
public enum RequestHeadValidator {
    /// What the listener should do with a head.
    public struct Verdict: Sendable, Equatable {
        /// Refuse with this, or nil to proceed.
        public var refusal: ServerRefusal?
        /// The client asked for `100 Continue` before it sends the body.
        public var expectsContinue: Bool
        /// The origin-form target to route on (an absolute-form target rewritten).
        public var originFormTarget: String
    }

    /// - Parameter maxHeadBytes: the size a head may have, request line included (`max_header_bytes`).
    public static func validate(_ head: HTTPRequestHead, maxHeadBytes: Int = .max) -> Verdict {
        var verdict = Verdict(refusal: nil, expectsContinue: false, originFormTarget: head.uri)
        func refuse(_ refusal: ServerRefusal) -> Verdict {
            verdict.refusal = refusal
            return verdict
        }

        // "GET " + target + " HTTP/1.1\r\n", then "name: value\r\n" per field, then "\r\n".
        let requestLineBytes = head.method.rawValue.utf8.count + head.uri.utf8.count + 12
        if requestLineBytes > maxHeadBytes { return refuse(.uriTooLong) }
        // One pass over the fields: the head's size, its `Host`s, and whether the rarer fields checked below are
        // there at all (looking each name up would scan the fields and allocate an array per name).
        var headBytes = requestLineBytes + 2
        var hostCount = 0
        var host: String?
        var hasTransferEncoding = false
        var hasExpect = false
        for (name, value) in head.headers {
            headBytes += name.utf8.count + value.utf8.count + 4
            if HTTPSyntax.equalsIgnoringCase(name.utf8, "host") {
                hostCount += 1
                if host == nil { host = value }
            } else if HTTPSyntax.equalsIgnoringCase(name.utf8, "transfer-encoding") {
                hasTransferEncoding = true
            } else if HTTPSyntax.equalsIgnoringCase(name.utf8, "expect") {
                hasExpect = true
            }
        }
        if headBytes > maxHeadBytes { return refuse(.headerTooLarge) }

        if head.method == .CONNECT { return refuse(.methodNotImplemented("CONNECT")) }

        if head.version.major == 1, head.version.minor >= 1, hostCount != 1 {
            return refuse(.malformedRequest(hostCount == 0 ? "missing Host header" : "more than one Host header"))
        }
        if hostCount > 1 { return refuse(.malformedRequest("more than one Host header")) }
        if let host, !Self.isValidHost(host) {
            return refuse(.malformedRequest("invalid Host header"))
        }

        let transferEncodings = hasTransferEncoding ? head.headers["transfer-encoding"] : []
        if !transferEncodings.isEmpty {
            if head.version.major == 1, head.version.minor == 0 {
                return refuse(.malformedRequest("Transfer-Encoding in an HTTP/1.0 request"))
            }
            let codings = transferEncodings.flatMap { $0.split(separator: ",") }.map {
                Substring($0).trimmingASCIIWhitespace().lowercased()
            }
            if codings != ["chunked"] { return refuse(.unsupportedTransferEncoding) }
        }

        for expectation in hasExpect ? head.headers["expect"] : [] {
            if Substring(expectation).trimmingASCIIWhitespace().lowercased() == "100-continue" {
                verdict.expectsContinue = true
            } else {
                return refuse(.expectationFailed)
            }
        }

        var target = Substring(head.uri)
        if head.uri.utf8.contains(UInt8(ascii: "#")) {
            return refuse(.malformedRequest("fragment in the request target"))
        }
        if !target.hasPrefix("/") {
            if head.method == .OPTIONS, target == "*" {
                verdict.originFormTarget = "*"
                return verdict
            }
            // Absolute form: scheme "://" authority path-abempty [ "?" query ]
            guard let schemeEnd = target.firstRange(of: "://") else {
                return refuse(.malformedRequest("request target is neither origin-form nor absolute-form"))
            }
            let scheme = target[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "http" || scheme == "https" else {
                return refuse(.malformedRequest("unsupported scheme in the request target"))
            }
            target = target[schemeEnd.upperBound...]
            let authorityEnd = target.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? target.endIndex
            let authority = target[..<authorityEnd]
            if let host, host.lowercased() != authority.lowercased() {
                return refuse(.malformedRequest("Host header does not match the absolute-form target"))
            }
            let rest = target[authorityEnd...]
            verdict.originFormTarget = rest.hasPrefix("/") ? String(rest) : "/" + rest
        }
        return verdict
    }

    /// Whether a `Host` value is `uri-host [ ":" port ]` with a non-empty host.
    static func isValidHost(_ value: String) -> Bool {
        // Over the contiguous bytes (native strings have them): the UTF-8 view's index arithmetic costs more than the
        // check itself, on every request.
        if let verdict = value.utf8.withContiguousStorageIfAvailable({ Self.isValidHost(bytes: $0) }) {
            return verdict
        }
        return Array(value.utf8).withUnsafeBufferPointer { Self.isValidHost(bytes: $0) }
    }

    private static func isValidHost(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let trimmed = HTTPSyntax.trimmingWhitespace(bytes[...])
        let start = trimmed.startIndex
        let end = trimmed.endIndex
        guard start < end else { return false }
        var index = start
        if bytes[start] == UInt8(ascii: "[") {
            // IP-literal: IPv6address or IPvFuture, whose characters are unreserved, sub-delims and ":".
            index += 1
            while index < end, bytes[index] != UInt8(ascii: "]") {
                guard Self.isUnreservedOrSubDelim(bytes[index]) || bytes[index] == UInt8(ascii: ":") else {
                    return false
                }
                index += 1
            }
            guard index < end, index > start + 1 else { return false }  // a "]" closes a non-empty literal
            index += 1
        } else {
            // reg-name (IPv4 addresses are reg-names too): unreserved, pct-encoded, sub-delims.
            while index < end, bytes[index] != UInt8(ascii: ":") {
                if bytes[index] == UInt8(ascii: "%") {
                    guard index + 2 < end, Self.isHexDigit(bytes[index + 1]), Self.isHexDigit(bytes[index + 2]) else {
                        return false
                    }
                    index += 3
                    continue
                }
                guard Self.isUnreservedOrSubDelim(bytes[index]) else { return false }
                index += 1
            }
            guard index > start else { return false }
        }
        guard index < end else { return true }
        guard bytes[index] == UInt8(ascii: ":") else { return false }
        index += 1
        while index < end {
            guard bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") else { return false }
            index += 1
        }
        return true
    }

    private static func isUnreservedOrSubDelim(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
            UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
            UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default:
            return false
        }
    }
}
