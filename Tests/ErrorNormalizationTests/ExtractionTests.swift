import GatewayCore
import HTTPTypes
import Testing

@testable import ErrorNormalization

/// The extraction layer on its own: what the generic reader and the settling rules take from a body, before any
/// code is decided.
@Suite struct ExtractionTests {
    private func read(_ json: String, status: Int = 400) throws -> VendorError {
        let document = try #require(JSONReader.parse(Array(json.utf8)), "not JSON: \(json)")
        return try #require(
            ShapeDetector.readJSON(document, setting: .auto, mediaType: "application/json", status: status))
    }

    @Test func namespaceIsDroppedFromAWSTypes() throws {
        let error = try self.read(
            #"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#
        )
        #expect(error.code == "ResourceNotFoundException")
        #expect(error.message == "Requested resource not found")
        #expect(error.dialectName == GenericDialect.name)
    }

    @Test func numbersThatRepeatTheStatusAreNoCode() throws {
        #expect(try self.read(#"{"error":{"code":404,"message":"Not there"}}"#, status: 404).code == nil)
        #expect(
            try self.read(#"{"code":20404,"message":"The requested resource was not found"}"#, status: 404).code
                == "20404")
    }

    @Test func mostSpecificCodeWins() throws {
        let paypal = try self.read(
            #"{"name":"UNPROCESSABLE_ENTITY","message":"The requested action could not be performed, semantically incorrect, or failed business validation.","details":[{"issue":"PAYER_CANNOT_PAY","description":"Payer cannot pay for this transaction."}]}"#,
            status: 422)
        #expect(paypal.code == "PAYER_CANNOT_PAY")
        #expect(paypal.message == "Payer cannot pay for this transaction.", "a generic message gives way")
        #expect(paypal.fieldErrors.isEmpty)
        let google = try self.read(
            #"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#
        )
        #expect(google.code == "API_KEY_INVALID")
        #expect(google.category == "INVALID_ARGUMENT")
        let kubernetes = try self.read(
            #"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"grafana\" not found","reason":"NotFound","details":{"name":"grafana","kind":"pods"},"code":404}"#,
            status: 404)
        #expect(kubernetes.code == "NotFound")
        #expect(kubernetes.fieldErrors.isEmpty, "details.name is a resource name, not a field error")
    }

    @Test func fieldErrorsInEveryShape() throws {
        let pointer = try self.read(
            #"{"name":"INVALID_REQUEST","message":"Request is not well-formed.","details":[{"field":"/purchase_units","issue":"MISSING_REQUIRED_PARAMETER","description":"A required field is missing."}]}"#
        )
        #expect(pointer.fieldErrors.map(\.field) == ["purchase_units"])
        #expect(pointer.fieldErrors.first?.pointer == "#/purchase_units")
        #expect(pointer.code == "MISSING_REQUIRED_PARAMETER")

        let grape = try self.read(#"{"message":{"bio":["is too long (maximum is 255 characters)"]}}"#)
        #expect(grape.fieldErrors.map(\.field) == ["bio"])
        #expect(grape.message == nil)

        let salesforce = try self.read(
            #"[{"message":"Account ID: id value of incorrect type: 001900K0001pPuOAAU","errorCode":"MALFORMED_ID","fields":["Id"]}]"#
        )
        #expect(salesforce.fieldErrors.map(\.field) == ["Id"])
        #expect(salesforce.code == "MALFORMED_ID")
        #expect(salesforce.message == "Account ID: id value of incorrect type: 001900K0001pPuOAAU")

        let discord = try self.read(
            #"{"code":50035,"message":"Invalid Form Body","errors":{"embeds":{"0":{"title":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 256 or fewer in length."}]}}}}}"#
        )
        #expect(discord.fieldErrors.map(\.field) == ["embeds.0.title"])
        #expect(discord.code == "50035")

        let rails = try self.read(#"{"title":["can't be blank"],"base":["Record is locked"]}"#, status: 422)
        #expect(rails.fieldErrors.map(\.field) == ["title", nil])
    }

    @Test func messagesInUnusualPlaces() throws {
        let elastic = try self.read(
            #"{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [x]"}],"type":"index_not_found_exception","reason":"no such index [x]"},"status":404}"#,
            status: 404)
        #expect(elastic.message == "no such index [x]")
        #expect(elastic.code == "index_not_found_exception")
        #expect(elastic.fieldErrors.isEmpty)
        let jira = try self.read(
            #"{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}"#,
            status: 404)
        #expect(jira.message == "Issue does not exist or you do not have permission to see it.")
        let spring = try self.read(
            #"{"timestamp":"2025-03-06T15:46:40Z","status":404,"error":"Not Found","message":"No message available","path":"/x"}"#,
            status: 404)
        #expect(spring.message == "Not Found", "a placeholder is no message")
        let slack = try self.read(#"{"ok":false,"error":"ratelimited"}"#, status: 429)
        #expect(slack.message == nil, "an identifier is a code, not words to show")
        #expect(slack.code == "ratelimited")
    }

    @Test func identifierMessagesAreCodes() throws {
        let firebase = try self.read(
            #"{"error":{"code":400,"message":"TOO_MANY_ATTEMPTS_TRY_LATER : Access to this account has been temporarily disabled.","errors":[{"message":"TOO_MANY_ATTEMPTS_TRY_LATER : Access to this account has been temporarily disabled.","domain":"global","reason":"invalid"}]}}"#
        )
        #expect(firebase.code == "TOO_MANY_ATTEMPTS_TRY_LATER")
        #expect(firebase.fieldErrors.isEmpty, "an item repeating the message goes")
    }

    @Test func statedWaits() throws {
        #expect(
            try self.read(#"{"message":"You are being rate limited.","retry_after":64.57,"global":false}"#, status: 429)
                .retryAfterSeconds == 65)
        #expect(
            try self.read(
                #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}"#,
                status: 429
            )
            .retryAfterSeconds == 35)
    }

    @Test func hostileDepthAndWidthAreBounded() throws {
        let deep = String(repeating: #"{"error":"#, count: 60) + #""x""# + String(repeating: "}", count: 60)
        if let document = JSONReader.parse(Array(deep.utf8)) {
            _ = GenericDialect.read(document, status: 400)
        }
        let wide =
            "{" + (0..<5000).map { #""k\#($0)":{"message":"m\#($0) x","code":"c\#($0)"}"# }.joined(separator: ",") + "}"
        let document = try #require(JSONReader.parse(Array(wide.utf8)))
        let error = try #require(GenericDialect.read(document, status: 400))
        #expect(error.code != nil)
    }

    @Test func durationsInRateLimitHeaders() {
        #expect(HeaderSignals.duration("6m0s") == 360)
        #expect(HeaderSignals.duration("20ms") == 1)
        #expect(HeaderSignals.duration("1.5s") == 2)
        #expect(HeaderSignals.duration("1h") == 3600)
        #expect(HeaderSignals.duration("abc") == nil)
        #expect(HeaderSignals.duration("5") == nil)
        #expect(HeaderSignals.duration("") == nil)
        let headers = Fixture.headers([
            ("x-ratelimit-remaining-tokens", "0"), ("x-ratelimit-reset-tokens", "6m0s"),
            ("x-ratelimit-remaining-requests", "10"), ("x-ratelimit-reset-requests", "1s"),
        ])
        #expect(HeaderSignals.rateLimitReset(status: 400, headers: headers, nowUnixSeconds: 0)?.seconds == 360)
    }
}
