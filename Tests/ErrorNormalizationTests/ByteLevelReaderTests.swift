import HTTPTypes
import NIOCore
import Testing

@testable import ErrorNormalization

/// The byte-level shortcuts of the hot error path give what the general readers give.
@Suite struct ByteLevelReaderTests {
    /// `Content-Type`s and the media type the decoder must report for each, through the shortcut or not.
    @Test(arguments: [
        ("application/json", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("application/problem+json", "application/problem+json"),
        ("application/vnd.api+json; charset=utf-8", "application/vnd.api+json"),
        ("Application/JSON", "application/json"),
        ("application/json;charset=utf-8", "application/json"),
        ("application/json; charset=UTF-8", "application/json"),
        (" text/html ; charset=\"utf-8\"", "text/html"),
        ("text/plain; charset=us-ascii", "text/plain"),
        ("", ""),
    ])
    func mediaTypeIsTheGeneralParsersOwn(contentType: String, expected: String) throws {
        var headers = HTTPFields()
        if !contentType.isEmpty { headers[.contentType] = contentType }
        let decoded = try #require(
            BodyDecoder.decode(headers: headers, body: ByteBuffer(string: "{}"), bodyComplete: true, limit: 1024))
        #expect(decoded.mediaType == expected)
        #expect(decoded.bytes == Array("{}".utf8))
        #expect(decoded.isComplete)
    }

    @Test func shortcutTakesOnlyPlainUTF8Forms() {
        #expect(BodyDecoder.plainUTF8MediaType("application/json") == "application/json")
        #expect(BodyDecoder.plainUTF8MediaType("application/json; charset=utf-8") == "application/json")
        // Anything else is the general parser's: case, spaces, other charsets, parameters, an empty type.
        for other in [
            "Application/json", "application/json ", "application/json; charset=iso-8859-1",
            "application/json; charset=UTF-8", "application/json;charset=utf-8", "; charset=utf-8", "",
            "text/html; q=1",
        ] {
            #expect(BodyDecoder.plainUTF8MediaType(other) == nil, "\(other)")
        }
    }

    @Test func latin1IsStillConverted() throws {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=iso-8859-1"
        let decoded = try #require(
            BodyDecoder.decode(
                headers: headers, body: ByteBuffer(bytes: [0x22, 0xE9, 0x22]), bodyComplete: true,
                limit: 1024))
        #expect(decoded.bytes == [0x22, 0xC3, 0xA9, 0x22])
    }

    @Test(
        arguments: [
            ("EMAIL_EXISTS", "EMAIL_EXISTS"),
            ("TOO_MANY_ATTEMPTS_TRY_LATER : Access to this account has been disabled", "TOO_MANY_ATTEMPTS_TRY_LATER"),
            ("INVALID_ID_TOKEN: the token expired", "INVALID_ID_TOKEN"),
            ("The given data was invalid.", nil),
            ("ABCD", nil),
            ("A_B", nil),
            ("EMAIL_EXISTS and more", nil),
            ("lower_case_id", nil),
            (String(repeating: "A_", count: 33), nil),
            // Not ASCII: read by characters. A combining mark makes the space or colon before it another character.
            ("ÉMAIL_EXISTS", nil),
            ("EMAIL_EXISTS :\u{301} accent", nil),
            ("EMAIL_EXISTS \u{301}", nil),
            ("EMAIL_EXISTS: déjà", "EMAIL_EXISTS"),
        ] as [(String, String?)])
    func leadingIdentifierReadsBytesAsItReadCharacters(message: String, expected: String?) {
        #expect(VendorError.leadingIdentifier(of: message) == expected)
    }
}
