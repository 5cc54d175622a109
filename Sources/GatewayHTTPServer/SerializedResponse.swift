import GatewayCore
import NIOCore
import NIOHTTP1

/// A complete response whose length its own `Content-Length` settles, written as bytes by the listener itself
/// instead of part by part through NIO's encoder and header validator.
///
/// Nearly every response the gateway sends is one: a small upstream response that arrived whole, and every envelope.
/// Three parts through four handlers (each wrapped, unwrapped and encoded) cost more than writing the head's bytes
/// once; a small body is copied after them, so the response leaves as one buffer. Anything else — no or several
/// `Content-Length`s, `Transfer-Encoding`, a status without a body (1xx, 204, 304), a `HEAD` answer (whose length is
/// not what is sent), a field NIO's validator would refuse — returns nil and takes the encoder's path, which frames
/// and validates it as before.
enum SerializedResponse {
    /// Bodies up to this many bytes are copied after the head (one buffer, one `iovec`); larger ones follow it.
    static let inlineBodyLimit = 4096

    /// The head's bytes, and `body`'s when it is given and small (`bodyIncluded`), or nil when the encoder must frame
    /// the response. `bodyBytes` is the length of the whole body, which follows in parts when `body` is nil.
    static func serialize(
        _ head: HTTPResponseHead, bodyBytes: Int, body: ByteBuffer?, allocator: ByteBufferAllocator
    ) -> (bytes: ByteBuffer, bodyIncluded: Bool)? {
        let code = Int(head.status.code)
        guard head.version == .http1_1, (200...599).contains(code), code != 204, code != 304 else { return nil }
        var contentLengthMatches = false
        var headBytes = 32
        for (name, value) in head.headers {
            if HTTPSyntax.equalsIgnoringCase(name.utf8, "content-length") {
                let digits =
                    !value.isEmpty && value.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
                guard !contentLengthMatches, digits, Int(value) == bodyBytes else { return nil }
                contentLengthMatches = true
            } else if HTTPSyntax.equalsIgnoringCase(name.utf8, "transfer-encoding") {
                return nil
            }
            guard Self.isToken(name), Self.isFieldValue(value) else { return nil }
            headBytes += name.utf8.count + value.utf8.count + 4
        }
        let reason = head.status.reasonPhrase
        guard contentLengthMatches, Self.isFieldValue(reason) else { return nil }

        let inline = body != nil && bodyBytes <= Self.inlineBodyLimit
        var buffer = allocator.buffer(capacity: headBytes + reason.utf8.count + (inline ? bodyBytes : 0))
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(code / 100))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(code / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(code % 10))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(reason)
        buffer.writeStaticString("\r\n")
        for (name, value) in head.headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
        if inline, var body {
            buffer.writeBuffer(&body)
        }
        return (buffer, inline)
    }

    /// RFC 9110 section 5.1: a field name is a token (what NIO's validator checks).
    private static func isToken(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        // Over the contiguous bytes when the string has them (native strings do): far faster than the UTF-8 view.
        return name.utf8.withContiguousStorageIfAvailable { $0.allSatisfy(HTTPSyntax.isTokenByte) }
            ?? name.utf8.allSatisfy(HTTPSyntax.isTokenByte)
    }

    /// RFC 9110 section 5.5: no control byte but HTAB in a value (what NIO's validator checks).
    private static func isFieldValue(_ value: String) -> Bool {
        value.utf8.withContiguousStorageIfAvailable { $0.allSatisfy(HTTPSyntax.isFieldValueByte) }
            ?? value.utf8.allSatisfy(HTTPSyntax.isFieldValueByte)
    }
}
