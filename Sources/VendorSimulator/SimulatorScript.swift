/// What a request asks the simulator to do, read from its query parameters and `X-Sim-*` headers.
///
/// A query parameter `fail_status=500` and a header `X-Sim-Fail-Status: 500` mean the same thing (the header
/// name after `X-Sim-`, lowercased, with `-` read as `_`); the query wins when both are given. Parameters the
/// simulator does not know are ignored, so vendor queries such as `page=2` pass untouched.
struct SimulatorScript: Sendable, Equatable {
    /// How a scripted failure breaks the connection instead of answering with a status.
    enum FailMode: String, Sendable, Equatable {
        /// Close with RST (SO_LINGER 0) before any response byte.
        case reset
        /// Close cleanly (FIN) before any response byte.
        case close
        /// Write bytes that are not HTTP, then close.
        case garbage
    }

    /// A control parameter with a value the simulator cannot read.
    struct InvalidParameter: Error, Equatable {
        var name: String
        var value: String
    }

    var error: String?
    var status: Int?
    var body: String?
    var contentType: String?
    /// How many requests with the same ``failKey`` fail; `Int.max` when a failure was asked without `fail=N`.
    var fail: Int?
    var failKey: String?
    var failStatus: Int = 503
    var failRetryAfter: String?
    var failMode: FailMode?
    var delay: Duration?
    var bodyDelay: Duration?
    var hang = false
    var size: Int64?
    var chunked = false
    var echo = false
    var rateLimitExhausted = false
    var malformed: MalformedResponse?

    /// The parameter names the simulator reads (query form).
    static let names: Set<String> = [
        "error", "status", "body", "content_type", "fail", "key", "fail_status", "fail_retry_after", "fail_mode",
        "delay", "body_delay", "hang", "size", "chunked", "echo", "ratelimit", "malformed",
    ]

    /// Reads the script of a request.
    /// - Parameters:
    ///   - query: the raw query string (after `?`, without it), or nil.
    ///   - headers: the request headers.
    /// - Throws: ``InvalidParameter`` for a known parameter with an unreadable value.
    static func parse(query: String?, headers: [(name: String, value: String)]) throws(InvalidParameter) -> Self {
        var values: [String: String] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower.hasPrefix("x-sim-") else { continue }
            let key = String(lower.dropFirst("x-sim-".count)).replacingAll("-", with: "_")
            if Self.names.contains(key) {
                values[key] = value
            }
        }
        for (name, value) in Self.queryItems(query) where Self.names.contains(name) {
            values[name] = value
        }
        var script = SimulatorScript()
        for (name, value) in values {
            try script.apply(name: name, value: value)
        }
        if script.fail == nil, script.failMode != nil || values["fail_status"] != nil {
            script.fail = Int.max
        }
        return script
    }

    private mutating func apply(name: String, value: String) throws(InvalidParameter) {
        let invalid = InvalidParameter(name: name, value: value)
        switch name {
        case "error": self.error = value
        case "status":
            guard let status = Int(value), (100...999).contains(status) else { throw invalid }
            self.status = status
        case "body": self.body = value
        case "content_type": self.contentType = value
        case "fail":
            guard let count = Int(value), count >= 0 else { throw invalid }
            self.fail = count
        case "key": self.failKey = value
        case "fail_status":
            guard let status = Int(value), (100...999).contains(status) else { throw invalid }
            self.failStatus = status
        case "fail_retry_after": self.failRetryAfter = value
        case "fail_mode":
            guard let mode = FailMode(rawValue: value) else { throw invalid }
            self.failMode = mode
        case "delay":
            guard let duration = Self.parseDuration(value) else { throw invalid }
            self.delay = duration
        case "body_delay":
            guard let duration = Self.parseDuration(value) else { throw invalid }
            self.bodyDelay = duration
        case "hang":
            guard let flag = Self.parseBool(value) else { throw invalid }
            self.hang = flag
        case "size":
            guard let size = Self.parseSize(value) else { throw invalid }
            self.size = size
        case "chunked":
            guard let flag = Self.parseBool(value) else { throw invalid }
            self.chunked = flag
        case "echo":
            guard let flag = Self.parseBool(value) else { throw invalid }
            self.echo = flag
        case "ratelimit":
            guard value == "exhausted" else { throw invalid }
            self.rateLimitExhausted = true
        case "malformed":
            guard let mode = MalformedResponse(rawValue: value) else { throw invalid }
            self.malformed = mode
        default:
            throw invalid
        }
    }

    /// Splits a raw query into percent-decoded name/value pairs (`+` is a space, as in forms).
    static func queryItems(_ query: String?) -> [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { item in
            if let equals = item.firstIndex(of: "=") {
                return (
                    Self.percentDecode(item[..<equals]), Self.percentDecode(item[item.index(after: equals)...])
                )
            }
            return (Self.percentDecode(item), "")
        }
    }

    static func percentDecode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let high = Self.hexValue(iterator[iterator.startIndex]),
                let low = Self.hexValue(iterator[iterator.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The longest wait a request may ask for: an hour is more than any test or demo needs, and far from the
    /// values (`1e300s`, `Int64.max` ms) whose conversion to an integer or to a NIO `TimeAmount` would trap.
    static let maximumDurationMilliseconds: Double = 3_600_000

    /// `250ms`, `2s`, `1.5s`, `1m`; a bare number is milliseconds. Nil for anything else, negative, or longer than
    /// ``maximumDurationMilliseconds`` (the request then gets 400).
    static func parseDuration(_ text: String) -> Duration? {
        let units: [(suffix: String, milliseconds: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
        var number: Double?
        var scale: Double = 1
        for unit in units where text.hasSuffix(unit.suffix) {
            number = Double(text.dropLast(unit.suffix.count))
            scale = unit.milliseconds
            break
        }
        if number == nil, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            number = Double(text)
        }
        guard let number, number >= 0, number.isFinite else { return nil }
        let milliseconds = (number * scale).rounded()
        guard milliseconds <= Self.maximumDurationMilliseconds else { return nil }
        return .milliseconds(Int64(milliseconds))
    }

    /// `1024`, `16KiB`, `50MiB`, `1GiB` (also `K`/`M`/`G`, `KB`/`MB`/`GB` read as binary units, any case).
    static func parseSize(_ text: String) -> Int64? {
        let lower = text.lowercased()
        let units: [(suffix: String, factor: Int64)] = [
            ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("kb", 1 << 10), ("mb", 1 << 20),
            ("gb", 1 << 30), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1),
        ]
        for unit in units where lower.hasSuffix(unit.suffix) {
            guard let number = Int64(lower.dropLast(unit.suffix.count)), number >= 0 else { return nil }
            let (product, overflow) = number.multipliedReportingOverflow(by: unit.factor)
            return overflow ? nil : product
        }
        guard let number = Int64(lower), number >= 0 else { return nil }
        return number
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "", "true", "1", "yes", "on": true
        case "false", "0", "no", "off": false
        default: nil
        }
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation here).
    fileprivate func replacingAll(_ target: Character, with replacement: Character) -> String {
        String(self.map { $0 == target ? replacement : $0 })
    }
}
