/// Request identifiers (`X-Request-ID`, SPEC section 5): kept when the client's is sane, else made here.
public enum RequestID {
    /// Whether an incoming value is kept: 1–128 characters from `[A-Za-z0-9._:-]`.
    public static func isAcceptable(_ value: some StringProtocol) -> Bool {
        let utf8 = value.utf8
        guard (1...128).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
                UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    private static let crockford: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// A new ULID-shaped identifier: 48 bits of milliseconds then 80 random bits, 26 Crockford base-32 characters,
    /// so ids sort by time in logs.
    public static func make<R: RandomNumberGenerator>(unixMilliseconds: UInt64, using random: inout R) -> String {
        var bytes = [UInt8](repeating: 0, count: 26)
        var time = unixMilliseconds
        for index in stride(from: 9, through: 0, by: -1) {
            bytes[index] = Self.crockford[Int(time & 31)]
            time >>= 5
        }
        var high = random.next() as UInt64
        var low = random.next() as UInt64
        for index in stride(from: 25, through: 10, by: -1) {
            bytes[index] = Self.crockford[Int(low & 31)]
            low = (low >> 5) | ((high & 31) << 59)
            high >>= 5
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
