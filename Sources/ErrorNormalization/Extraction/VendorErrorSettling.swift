/// The rules every reader's result goes through, whatever family read it, so that each family's file stays about
/// its shape: the same body read by two families gives the same members.
extension VendorError {
    /// - A number that only repeats the HTTP status is not the vendor's code (`{"error": {"code": 404, …}}`).
    /// - An identifier sent as the message is the code too (`"message": "EMAIL_EXISTS"`), and so is an identifier
    ///   that leads the message (`"TOO_MANY_ATTEMPTS_TRY_LATER : Access to this account…"`).
    /// - Items that only repeat the whole error's message go.
    /// - With no message of its own, a lone item that names no field is the whole error; of several such items,
    ///   the first is the detail and all stay listed.
    /// - A generic message ("Validation failed", "Bad Request", a vendor's boilerplate) gives way to the one more
    ///   specific item that names no field.
    mutating func settle(status: Int?) {
        self.settleCode(status: status)
        if let message = self.message {
            self.fieldErrors.removeAll { $0.field == nil && $0.pointer == nil && $0.message == message }
        }
        // Items with parameters are structured validation errors (stemp's CUSTOM_VALIDATION), not messages.
        let loose = self.fieldErrors.filter { $0.field == nil && $0.pointer == nil && $0.params == nil }
        if self.message == nil, let first = loose.first {
            self.message = first.message
            if self.code == nil { self.code = first.code }
            if loose.count == 1, self.fieldErrors.count == 1 { self.fieldErrors = [] }
        } else if let message = self.message, loose.count == 1, Self.isGeneric(message), let only = loose.first {
            self.message = only.message
            if self.code == nil { self.code = only.code }
            self.fieldErrors.removeAll { $0.field == nil && $0.pointer == nil && $0.message == only.message }
        }
    }

    /// The first two rules above, on the code alone: also applied before a family's result is enriched, so that
    /// the generic reader looks for a code only where the family really had none.
    mutating func settleCode(status: Int?) {
        if let code = self.code, let status, code.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), Int(code) == status {
            self.code = nil
        }
        if self.code == nil, let message = self.message, let identifier = Self.leadingIdentifier(of: message) {
            self.code = identifier
        }
    }

    /// An UPPER_SNAKE identifier that is the whole message or leads it before a colon.
    static func leadingIdentifier(of message: String) -> String? {
        if let answer = message.utf8.withContiguousStorageIfAvailable(Self.leadingIdentifier(ofASCII:)),
            answer.decided
        {
            return answer.identifier
        }
        let token = message.prefix { $0 != " " && $0 != ":" }
        guard Self.isIdentifier(token.utf8) else { return nil }
        let rest = message.dropFirst(token.count).drop { $0 == " " }
        guard rest.isEmpty || rest.hasPrefix(":") else { return nil }
        return String(token)
    }

    /// The same over a message's bytes, for an ASCII message (nearly all): no grapheme breaking. Not `decided`, and
    /// the outer function decides by characters, when the message is not ASCII (a combining mark after the space or
    /// the colon would change what the characters are).
    private static func leadingIdentifier(
        ofASCII bytes: UnsafeBufferPointer<UInt8>
    ) -> (decided: Bool, identifier: String?) {
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return (false, nil) }
        let end = bytes.firstIndex { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: ":") } ?? bytes.endIndex
        let token = UnsafeBufferPointer(rebasing: bytes[..<end])
        guard Self.isIdentifier(token) else { return (true, nil) }
        let rest = bytes[end...].drop { $0 == UInt8(ascii: " ") }
        guard rest.isEmpty || rest.first == UInt8(ascii: ":") else { return (true, nil) }
        return (true, String(decoding: token, as: UTF8.self))
    }

    /// Whether `bytes` spell an UPPER_SNAKE identifier: 4 to 64 of `A`–`Z`, `0`–`9` and `_`, at least one `_`.
    private static func isIdentifier(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.count >= 4 && bytes.count <= 64 && bytes.contains(UInt8(ascii: "_"))
            && bytes.allSatisfy {
                ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "_")
                    || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
            }
    }

    static func isGeneric(_ message: String) -> Bool {
        guard message.utf8.count <= 160 else { return false }
        var lowered = Substring(CodeWords.lowercasedASCII(message)).trimmingASCIIWhitespace()
        while lowered.hasSuffix(".") || lowered.hasSuffix("!") { lowered = lowered.dropLast() }
        return Vocabulary.genericMessages.contains(String(lowered))
    }
}
