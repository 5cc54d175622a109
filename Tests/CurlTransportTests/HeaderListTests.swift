import CCurl
import HTTPTypes
import Testing

@testable import CurlTransport

/// The request fields as curl gets them (`CURLOPT_HTTPHEADER`): one `Name: value` line each, in order.
@Suite struct HeaderListTests {
    private func lines(_ fields: HTTPFields) -> [String] {
        let list = EasyHandle.makeHeaderList(fields)
        defer { curl_slist_free_all(list) }
        var lines: [String] = []
        var node = list
        while let current = node {
            lines.append(String(cString: current.pointee.data))
            node = current.pointee.next
        }
        return lines
    }

    @Test func eachFieldIsOneLineAndCurlsOwnAcceptAndExpectAreSuppressed() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: HTTPField.Name("X-Spelled-So")!, value: "a b, c"))
        fields.append(HTTPField(name: .authorization, value: "Bearer t"))
        fields.append(HTTPField(name: HTTPField.Name("X-Empty")!, value: ""))  // `Name;`: curl's empty value
        fields.append(HTTPField(name: HTTPField.Name("X-Long")!, value: String(repeating: "v", count: 1000)))
        #expect(
            self.lines(fields) == [
                "X-Spelled-So: a b, c", "Authorization: Bearer t", "X-Empty;",
                "X-Long: " + String(repeating: "v", count: 1000),
                "Expect:", "Accept:",
            ])
    }

    @Test func theClientsAcceptAndExpectAreKept() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: HTTPField.Name("accept")!, value: "application/json"))
        fields.append(HTTPField(name: .expect, value: "x"))
        #expect(self.lines(fields) == ["accept: application/json", "Expect: x"])
        #expect(self.lines(HTTPFields()) == ["Expect:", "Accept:"])
    }
}
