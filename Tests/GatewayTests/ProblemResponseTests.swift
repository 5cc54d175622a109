import GatewayCore
import NIOHTTP1
import Testing

@testable import Gateway

/// The envelope's HTTP response: its own fields replace any of the same name the caller passes, and the caller's
/// other fields stay in their order.
@Suite struct ProblemResponseTests {
    private func document(retryAfter: Int?) -> ProblemDocument {
        ProblemDocument(
            code: .rateLimited, instance: "/x", requestID: "01JD3Q2J6V8M4W1N0A9C7T5B2E", source: .gateway,
            retryAfter: retryAfter)
    }

    /// What `replaceOrAdd` gives for each of the envelope's fields in turn: the reference the response is held to.
    private func replacingEachInTurn(_ extra: HTTPHeaders, _ own: [(String, String)]) -> [String] {
        var headers = extra
        for (name, value) in own { headers.replaceOrAdd(name: name, value: value) }
        return headers.map { "\($0.name.lowercased()): \($0.value)" }
    }

    @Test(arguments: [nil, 7] as [Int?])
    func ownFieldsReplaceTheCallersAndTheRestKeepTheirOrder(retryAfter: Int?) {
        let extra: HTTPHeaders = [
            "X-RateLimit-Limit": "10", "Content-Type": "text/plain", "Retry-After": "99", "allow": "GET",
            "DATE": "yesterday", "X-RateLimit-Remaining": "0", "cache-control": "max-age=60", "X-Request-Id": "other",
        ]
        let document = self.document(retryAfter: retryAfter)
        let response = ProblemResponse.make(
            document, typeBase: "https://errors.example/", accept: [], extraHeaders: extra)
        let fields = response.headers.map { "\($0.name.lowercased()): \($0.value)" }
        var own = [
            ("content-type", "application/problem+json"), ("x-request-id", document.requestID),
            ("date", response.headers.first(name: "date") ?? "?"), ("cache-control", "no-store"),
        ]
        if let retryAfter { own.append(("retry-after", String(retryAfter))) }
        #expect(fields == self.replacingEachInTurn(extra, own))
        #expect(response.headers["retry-after"] == (retryAfter.map { [String($0)] } ?? ["99"]))
        #expect(response.headers["content-type"] == ["application/problem+json"])
        #expect(response.headers["date"].count == 1 && response.headers.first(name: "date") != "yesterday")
    }

    @Test func withoutExtraFieldsTheEnvelopesOwnAreAll() {
        let response = ProblemResponse.make(self.document(retryAfter: 3), typeBase: "t/", accept: ["application/json"])
        #expect(
            response.headers.map { $0.name }
                == ["content-type", "x-request-id", "date", "cache-control", "retry-after"])
        #expect(response.headers.first(name: "content-type") == "application/json")
    }
}
