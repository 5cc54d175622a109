// libFuzzer entry point for the upstream head parser (Sources/CurlTransport/ResponseHeadParser.swift and its table of
// common names, CommonFieldNames.swift, compiled into this binary): the input is split into lines as curl's header
// callback would hand them over. Whatever the bytes,
// the parser must not trap, and a head it accepts must be safe to write downstream: a final status 200...599, at
// most 256 fields, names that are tokens, values without CR, LF, NUL or other controls, one Content-Length value.
import GatewayCore
import HTTPTypes

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var parser = ResponseHeadParser()
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var start = 0
    var index = 0
    while start < size {
        while index < size && bytes[index] != UInt8(ascii: "\n") { index += 1 }
        let end = min(index + 1, size)
        let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        switch parser.receive(line: line) {
        case .needMore:
            break
        case .invalid:
            return 0
        case .complete(let head):
            check(head)
            // Lines after the final head are trailers or body: ignored.
            precondition(parser.isComplete)
        }
        start = end
        index = end
    }
    return 0
}

private func check(_ head: UpstreamResponseHead) {
    precondition((200...599).contains(head.status), "status \(head.status)")
    precondition(head.headers.count <= 256)
    var contentLengths = Set<String>()
    for field in head.headers {
        for byte in field.value.utf8 {
            precondition(byte == 0x09 || (byte >= 0x20 && byte != 0x7F), "control byte in a value")
        }
        precondition(!field.name.rawName.isEmpty)
        for byte in field.name.rawName.utf8 {
            precondition(byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: ":"), "bad name byte")
        }
        if field.name == .contentLength {
            for element in field.value.split(separator: ",") {
                let trimmed = element.trimmingPrefix(while: { $0 == " " || $0 == "\t" })
                let number = trimmed.prefix(while: { $0.isASCII && $0.isNumber }).drop(while: { $0 == "0" })
                contentLengths.insert(String(number))
            }
        }
    }
    precondition(contentLengths.count <= 1, "conflicting Content-Length accepted")
}
