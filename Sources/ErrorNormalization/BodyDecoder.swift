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
        // Split on the UTF-8 bytes: `split(separator:)` on a String walks grapheme clusters, costly per error.
        let contentType = Substring(headers.value(of: .contentType) ?? "")
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

    private static func lowercasedTrimmed(_ text: Substring) -> String {
        CodeWords.lowercasedASCII(String(text.trimmingASCIIWhitespace()))
    }
}
