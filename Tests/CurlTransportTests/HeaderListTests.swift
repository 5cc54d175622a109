import CCurl
import HTTPTypes
import Testing

@testable import CurlTransport

/// The request fields as curl gets them (`CURLOPT_HTTPHEADER`): one `Name: value` line each, in order.
@Suite struct HeaderListTests {
    private func lines(_ fields: HTTPFields) -> [String] {
        let list = HeaderList.make(fields)
        defer { HeaderList.free(list) }
        var lines: [String] = []
        var node: UnsafeMutablePointer<curl_slist>? = list
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

    /// Any fields, any lengths (empty values, long ones, many fields): the lines are the fields in order, then the
    /// suppressing lines for what the request lacks, each exactly as written, from one block.
    @Test func anyFieldsComeOutAsTheirLinesInOrder() {
        var random = SystemRandomNumberGenerator()
        let names = ["X-A", "accept", "Expect", "Authorization", "X-Request-ID", "Content-Type", "X-Forwarded-For"]
        for _ in 0..<300 {
            var fields = HTTPFields()
            var expected: [String] = []
            for _ in 0..<Int.random(in: 0...40, using: &random) {
                let name = names.randomElement(using: &random)!
                let length = [0, 1, 7, 64, 300, 5000].randomElement(using: &random)!
                let value = String((0..<length).map { _ in "abcxyz019,;=-é".randomElement(using: &random)! })
                fields.append(HTTPField(name: HTTPField.Name(name)!, value: value))
                expected.append(value.isEmpty ? name + ";" : name + ": " + value)
            }
            if !expected.contains(where: { $0.lowercased().hasPrefix("expect") }) { expected.append("Expect:") }
            if !expected.contains(where: { $0.lowercased().hasPrefix("accept") }) { expected.append("Accept:") }
            #expect(self.lines(fields) == expected)
        }
    }
}
