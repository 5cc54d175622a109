import CCurl
import HTTPTypes

/// A request's header lines as the `curl_slist` curl reads (`CURLOPT_HTTPHEADER`), built in one allocation.
///
/// `curl_slist_append` allocates a node and a copy of the line for every field, and walks the list to its end on
/// each call: twenty-odd allocations a request. curl only reads the list while the transfer runs, so the nodes and
/// their NUL-terminated lines are laid out in one block instead: the nodes first, then the lines they point at.
/// Release it with ``free(_:)``, never with `curl_slist_free_all` (which frees each node and line on its own).
///
/// The lines: one `Name: value` per field, in order (`Name;` for an empty value, curl's syntax for it: `Name:` would
/// delete the header), then empty `Expect:` and `Accept:` unless the request has them: curl would otherwise add
/// `Accept: */*` and, for bodies over 1 MiB, `Expect: 100-continue` and a 1 s wait.
enum HeaderList {
    private static let suppressExpect: StaticString = "Expect:"
    private static let suppressAccept: StaticString = "Accept:"

    /// The list for `headers` (never empty: it holds at least the two suppressing lines, or the client's own).
    static func make(_ headers: HTTPFields) -> UnsafeMutablePointer<curl_slist> {
        var hasExpect = false
        var hasAccept = false
        var lineBytes = 0
        for field in headers {
            if field.name == .expect { hasExpect = true }
            if field.name == .accept { hasAccept = true }
            let value = field.value.utf8.count
            lineBytes += field.name.rawName.utf8.count + (value == 0 ? 1 : 2 + value) + 1
        }
        if !hasExpect { lineBytes += Self.suppressExpect.utf8CodeUnitCount + 1 }
        if !hasAccept { lineBytes += Self.suppressAccept.utf8CodeUnitCount + 1 }
        let count = headers.count + (hasExpect ? 0 : 1) + (hasAccept ? 0 : 1)

        let nodeBytes = count * MemoryLayout<curl_slist>.stride
        let block = UnsafeMutableRawPointer.allocate(
            byteCount: nodeBytes + lineBytes, alignment: MemoryLayout<curl_slist>.alignment)
        let nodes = block.bindMemory(to: curl_slist.self, capacity: count)
        var cursor = block + nodeBytes
        var index = 0
        func addLine(_ write: (inout UnsafeMutableRawPointer) -> Void) {
            let start = cursor
            write(&cursor)
            cursor.storeBytes(of: 0, as: UInt8.self)
            cursor += 1
            let next = index + 1 < count ? nodes + index + 1 : nil
            (nodes + index).initialize(
                to: curl_slist(data: start.assumingMemoryBound(to: CChar.self), next: next))
            index += 1
        }
        for field in headers {
            addLine { cursor in
                Self.copy(field.name.rawName, to: &cursor)
                if field.value.isEmpty {
                    Self.copy(byte: UInt8(ascii: ";"), to: &cursor)
                } else {
                    Self.copy(byte: UInt8(ascii: ":"), to: &cursor)
                    Self.copy(byte: UInt8(ascii: " "), to: &cursor)
                    Self.copy(field.value, to: &cursor)
                }
            }
        }
        if !hasExpect { addLine { Self.copy(Self.suppressExpect, to: &$0) } }
        if !hasAccept { addLine { Self.copy(Self.suppressAccept, to: &$0) } }
        return nodes
    }

    /// Releases a list made by ``make(_:)``.
    static func free(_ list: UnsafeMutablePointer<curl_slist>?) {
        guard let list else { return }
        UnsafeMutableRawPointer(list).deallocate()
    }

    private static func copy(byte: UInt8, to cursor: inout UnsafeMutableRawPointer) {
        cursor.storeBytes(of: byte, as: UInt8.self)
        cursor += 1
    }

    private static func copy(_ text: String, to cursor: inout UnsafeMutableRawPointer) {
        var text = text
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            cursor.copyMemory(from: base, byteCount: bytes.count)
            cursor += bytes.count
        }
    }

    private static func copy(_ text: StaticString, to cursor: inout UnsafeMutableRawPointer) {
        cursor.copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        cursor += text.utf8CodeUnitCount
    }
}
