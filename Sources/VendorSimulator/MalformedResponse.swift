/// A broken (or unusual) response head for hardening tests, selected with `malformed=NAME`.
///
/// These bytes are written on the socket as they are, bypassing the HTTP encoder (which would refuse most of
/// them), and the connection is then closed. A proxy must not pass any of them through as they are
/// (SPEC section 5): each one is something libcurl accepts leniently (see NIO-AND-CURL-NOTES.md).
public enum MalformedResponse: String, CaseIterable, Sendable {
    /// Two different `Content-Length` values (5 and 7) with a 5-byte body.
    case doubleContentLength = "double_content_length"
    /// Status code 999.
    case status999 = "status_999"
    /// A header value containing a bare CR.
    case bareCRHeader = "bare_cr_header"
    /// An obsolete line-folded header (RFC 9112 section 5.2).
    case obsFold = "obs_fold"
    /// `Content-Length : 2` — whitespace between the field name and the colon.
    case spaceBeforeColon = "space_before_colon"
    /// 10,000 header fields.
    case manyHeaders = "many_headers"
    /// A `101 Switching Protocols` to a request that asked for no upgrade, then a WebSocket frame.
    case unrequested101 = "unrequested_101"
    /// `103 Early Hints`, then a proper `200` (valid HTTP; the interim response must not confuse a proxy).
    case earlyHints = "early_hints"

    /// The number of header fields `manyHeaders` sends besides `Content-Length`.
    public static let manyHeadersCount = 10_000

    /// The exact bytes written for this mode.
    public var bytes: [UInt8] {
        switch self {
        case .unrequested101:
            // A WebSocket text frame (FIN, opcode 1, length 5) follows the head as raw bytes.
            return Array(self.text.utf8) + [0x81, 0x05] + Array("hello".utf8)
        default:
            return Array(self.text.utf8)
        }
    }

    private var text: String {
        switch self {
        case .doubleContentLength:
            return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello"
        case .status999:
            return "HTTP/1.1 999 Unknown\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
        case .bareCRHeader:
            return "HTTP/1.1 200 OK\r\nX-Bad: evil\rInjected: yes\r\nContent-Length: 2\r\n\r\nok"
        case .obsFold:
            return "HTTP/1.1 200 OK\r\nX-Folded: first\r\n second\r\nContent-Length: 2\r\n\r\nok"
        case .spaceBeforeColon:
            return "HTTP/1.1 200 OK\r\nContent-Length : 2\r\nContent-Type: text/plain\r\n\r\nok"
        case .manyHeaders:
            var text = "HTTP/1.1 200 OK\r\n"
            for index in 0..<Self.manyHeadersCount {
                text += "X-Many-\(index): v\r\n"
            }
            return text + "Content-Length: 2\r\n\r\nok"
        case .unrequested101:
            return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        case .earlyHints:
            let body = #"{"ok":true}"#
            return "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n" + body
        }
    }
}
