import CompressNIO
import HTTPTypes
import NIOCore

/// Turns the bytes an upstream sent into UTF-8 text the dialects can read: undoes `Content-Encoding: gzip` /
/// `deflate` (never inflating beyond the body limit), converts ISO-8859-1 to UTF-8, and refuses what it cannot
/// read (`br`, `zstd`, other charsets): the envelope is then built from status and headers alone.
enum BodyDecoder {
    /// The decoded body.
    struct Decoded {
        var bytes: [UInt8]
        /// False when the body was cut at the limit (by the caller or here).
        var isComplete: Bool
        /// The media type, lowercased, without parameters (`application/json`), or "".
        var mediaType: String
    }

    static func decode(headers: HTTPFields, body: ByteBuffer, bodyComplete: Bool, limit: Int) -> Decoded? {
        let limit = max(0, limit)
        var complete = bodyComplete && body.readableBytes <= limit
        var bytes: [UInt8]
        let encoding = headers.value(of: .contentEncoding).map { Self.lowercasedTrimmed(Substring($0)) } ?? ""
        switch encoding {
        case "", "identity":
            bytes = body.getBytes(at: body.readerIndex, length: min(body.readableBytes, limit)) ?? []
        case "gzip", "x-gzip", "deflate":
            guard let (inflated, inflatedComplete) = Self.inflate(body, encoding: encoding, limit: limit) else {
                return nil
            }
            bytes = inflated
            complete = complete && inflatedComplete
        default:
            return nil
        }
        let contentTypeValue = headers.value(of: .contentType) ?? ""
        if let mediaType = Self.plainUTF8MediaType(contentTypeValue) {
            return Decoded(bytes: bytes, isComplete: complete, mediaType: mediaType)
        }
        // Split on the UTF-8 bytes: `split(separator:)` on a String walks grapheme clusters, costly per error.
        let contentType = Substring(contentTypeValue)
        var parts = contentType.utf8.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)[...]
        let mediaType = parts.popFirst().map { Self.lowercasedTrimmed(Substring($0)) } ?? ""
        for parameter in parts {
            guard let equals = parameter.firstIndex(of: UInt8(ascii: "=")),
                Self.lowercasedTrimmed(Substring(parameter[..<equals])) == "charset"
            else { continue }
            var charset = Self.lowercasedTrimmed(Substring(parameter[parameter.index(after: equals)...]))
            if charset.hasPrefix("\""), charset.hasSuffix("\""), charset.count >= 2 {
                charset = String(charset.dropFirst().dropLast())
            }
            switch charset {
            case "utf-8", "utf8", "us-ascii", "ascii":
                break
            case "iso-8859-1", "latin1", "latin-1", "iso_8859-1", "l1":
                bytes = Self.latin1ToUTF8(bytes)
            default:
                return nil
            }
        }
        return Decoded(bytes: bytes, isComplete: complete, mediaType: mediaType)
    }

    /// Inflates at most `limit` bytes. `deflate` is tried as zlib (RFC 9110 section 8.4.1.2) and then as the raw
    /// deflate some servers send. Nil for corrupt data.
    private static func inflate(_ body: ByteBuffer, encoding: String, limit: Int) -> ([UInt8], Bool)? {
        guard body.readableBytes > 0 else { return ([], true) }
        guard limit > 0 else { return ([], false) }
        let algorithms: [ZlibAlgorithm] = encoding == "deflate" ? [.zlib, .deflate] : [.gzip]
        for algorithm in algorithms {
            var input = body
            var output = ByteBufferAllocator().buffer(capacity: limit)
            do {
                let decompressor = try ZlibDecompressor(algorithm: algorithm)
                try decompressor.inflate(from: &input, to: &output)
                return (output.readableBytesView.prefix(limit).map { $0 }, output.readableBytes <= limit)
            } catch let error as CompressNIOError where error == .bufferOverflow || error == .inputBufferOverflow {
                let bytes = Array(output.readableBytesView.prefix(limit))
                return (bytes, false)
            } catch {
                continue
            }
        }
        return nil
    }

    private static func latin1ToUTF8(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(where: { $0 >= 0x80 }) else { return bytes }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + bytes.count / 4)
        for byte in bytes {
            if byte < 0x80 {
                result.append(byte)
            } else {
                result.append(0xC0 | byte >> 6)
                result.append(0x80 | byte & 0x3F)
            }
        }
        return result
    }

    /// The media type of the commonest `Content-Type`s, read without splitting or lowercasing: a lowercase type
    /// alone (`application/json`) or with `; charset=utf-8` (the charset that needs no conversion). Nil for any
    /// other value, which the general parser reads.
    static func plainUTF8MediaType(_ value: String) -> String? {
        let length =
            value.utf8.withContiguousStorageIfAvailable(Self.plainMediaTypeLength)
            ?? Array(value.utf8).withUnsafeBufferPointer(Self.plainMediaTypeLength)
        guard let length else { return nil }
        return length == value.utf8.count ? value : String(decoding: value.utf8.prefix(length), as: UTF8.self)
    }

    /// The length of the media type when `bytes` is one of the forms above, else nil.
    private static func plainMediaTypeLength(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let charset: StaticString = "; charset=utf-8"
        let charsetBytes = UnsafeBufferPointer(start: charset.utf8Start, count: charset.utf8CodeUnitCount)
        var length = bytes.count
        if length > charsetBytes.count, bytes.suffix(charsetBytes.count).elementsEqual(charsetBytes) {
            length -= charsetBytes.count
        }
        guard length > 0, bytes.prefix(length).allSatisfy(Self.isPlainMediaTypeByte) else { return nil }
        return length
    }

    /// A byte of a media type that is already lowercase and has nothing to trim: `a-z`, `0-9`, and `/+.-`.
    private static func isPlainMediaTypeByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "-")
    }

    private static func lowercasedTrimmed(_ text: Substring) -> String {
        CodeWords.lowercasedASCII(String(text.trimmingASCIIWhitespace()))
    }
}
