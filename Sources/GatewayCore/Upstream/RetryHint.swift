public import HTTPTypes

/// Reads how long an upstream asks its clients to wait, from every header form vendors use.
///
/// - `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3).
/// - `X-RateLimit-Reset`, `X-Quota-Reset`: Unix time, or seconds from now. The two are told apart by size: a value
///   above ``unixTimeThreshold`` (early 2001 as Unix time; more than 31 years as a delay) is a timestamp.
/// - `RateLimit: "name";r=0;t=12` (IETF draft-ietf-httpapi-ratelimit-headers): `t` is seconds from now.
public enum RetryHint {
    /// Values above this are Unix timestamps; below, delays in seconds.
    public static let unixTimeThreshold = 1_000_000_000

    /// The `Retry-After` value (and `retry_after`) for a wait the gateway imposes: whole seconds, rounded up, at
    /// least 1 (a 0 would invite an immediate retry).
    public static func headerSeconds(for wait: Duration) -> Int {
        let (seconds, attoseconds) = wait.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }

    /// Seconds to wait according to `Retry-After`, or nil when absent or unreadable. A date in the past is 0.
    /// Decimal seconds (`2.0`, as Shopify sends) are read too and rounded up.
    public static func retryAfter(_ value: String, nowUnixSeconds: Int) -> Int? {
        let trimmed = Substring(value).trimmingASCIIWhitespace()
        if let seconds = Int(trimmed), seconds >= 0 { return seconds }
        if let first = trimmed.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9"),
            trimmed.utf8.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") }),
            let real = Double(trimmed), real.isFinite, real < 1e12
        {
            return Int(real.rounded(.up))
        }
        if let date = HTTPDate.parse(trimmed) { return max(0, date - nowUnixSeconds) }
        return nil
    }

    /// Seconds until a `*-Reset` value, read as Unix time or as seconds from now.
    public static func reset(_ value: String, nowUnixSeconds: Int) -> Int? {
        let trimmed = Substring(value).trimmingASCIIWhitespace()
        let number: Int?
        if let integer = Int(trimmed) {
            number = integer
        } else if let real = Double(trimmed), real.isFinite, real >= 0, real < 1e12 {
            number = Int(real.rounded(.up))
        } else {
            number = nil
        }
        guard let number, number >= 0 else { return nil }
        return number > Self.unixTimeThreshold ? max(0, number - nowUnixSeconds) : number
    }

    /// The smallest `t=` of the items of an IETF `RateLimit` field whose `r` is 0 (an exhausted window), or nil.
    public static func rateLimitField(_ value: String) -> Int? {
        var best: Int?
        for item in value.split(separator: ",") {
            var remaining: Int?
            var reset: Int?
            for parameter in item.split(separator: ";").dropFirst() {
                let pair = parameter.trimmingASCIIWhitespace().split(separator: "=", maxSplits: 1)
                guard pair.count == 2, let number = Int(pair[1].trimmingASCIIWhitespace()) else { continue }
                switch pair[0] {
                case "r": remaining = number
                case "t": reset = number
                default: break
                }
            }
            if remaining == 0, let reset, reset >= 0 { best = min(best ?? reset, reset) }
        }
        return best
    }

    /// The wait an upstream response asks for: `Retry-After` first, then an exhausted `RateLimit` item, then
    /// `X-RateLimit-Reset` when `X-RateLimit-Remaining` is 0 (or the status is 429), then `X-Quota-Reset` when
    /// `X-Quota-Remaining` is 0. Nil when no header says.
    public static func seconds(status: Int, headers: HTTPFields, nowUnixSeconds: Int) -> Int? {
        Self.secondsWithSource(status: status, headers: headers, nowUnixSeconds: nowUnixSeconds)?.seconds
    }

    /// ``seconds(status:headers:nowUnixSeconds:)`` with the name of the header field that said it.
    public static func secondsWithSource(
        status: Int, headers: HTTPFields, nowUnixSeconds: Int
    ) -> (seconds: Int, field: String)? {
        if let value = headers[.retryAfter], let seconds = Self.retryAfter(value, nowUnixSeconds: nowUnixSeconds) {
            return (seconds, "Retry-After")
        }
        if let value = headers[.rateLimit], let seconds = Self.rateLimitField(value) {
            return (seconds, "RateLimit")
        }
        if let value = headers[.xRateLimitReset],
            status == 429 || headers[.xRateLimitRemaining].flatMap({ Int($0) }) == 0,
            let seconds = Self.reset(value, nowUnixSeconds: nowUnixSeconds)
        {
            return (seconds, "X-RateLimit-Reset")
        }
        if let value = headers[.xQuotaReset], headers[.xQuotaRemaining].flatMap({ Int($0) }) == 0,
            let seconds = Self.reset(value, nowUnixSeconds: nowUnixSeconds)
        {
            return (seconds, "X-Quota-Reset")
        }
        return nil
    }
}

/// HTTP-dates (RFC 9110 section 5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must
/// accept.
public enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Unix seconds of an HTTP-date, or nil.
    public static func parse(_ text: Substring) -> Int? {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," }).map { $0 }
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT  -> [Sun, 06, Nov, 1994, 08:49:37, GMT]
        // RFC 850:     Sunday, 06-Nov-94 08:49:37 GMT -> [Sunday, 06-Nov-94, 08:49:37, GMT]
        // asctime:     Sun Nov  6 08:49:37 1994       -> [Sun, Nov, 6, 08:49:37, 1994]
        switch tokens.count {
        case 6 where tokens[5] == "GMT":
            guard let day = Int(tokens[1]), let month = self.month(tokens[2]), let year = Int(tokens[3]) else {
                return nil
            }
            return self.unix(year: year, month: month, day: day, time: tokens[4])
        case 4 where tokens[3] == "GMT":
            let parts = tokens[1].split(separator: "-")
            guard parts.count == 3, let day = Int(parts[0]), let month = self.month(parts[1]),
                let shortYear = Int(parts[2])
            else { return nil }
            // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
            let year = shortYear < 70 ? 2000 + shortYear : 1900 + shortYear
            return self.unix(year: year, month: month, day: day, time: tokens[2])
        case 5:
            guard let month = self.month(tokens[1]), let day = Int(tokens[2]), let year = Int(tokens[4]) else {
                return nil
            }
            return self.unix(year: year, month: month, day: day, time: tokens[3])
        default:
            return nil
        }
    }

    /// IMF-fixdate of Unix seconds, for `Date` headers.
    public static func format(unixSeconds: Int) -> String {
        let days = unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400
        let secondsOfDay = unixSeconds - days * 86_400
        let (year, month, day) = self.civil(fromDays: days)
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][((days % 7) + 7) % 7]
        let monthName = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][month - 1]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(weekday), \(two(day)) \(monthName) \(year) \(two(secondsOfDay / 3600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60)) GMT"
    }

    private static func month(_ token: Substring) -> Int? {
        self.months.firstIndex(of: token.lowercased()).map { $0 + 1 }
    }

    private static func unix(year: Int, month: Int, day: Int, time: Substring) -> Int? {
        let parts = time.split(separator: ":")
        guard parts.count == 3, let hour = Int(parts[0]), let minute = Int(parts[1]), let second = Int(parts[2]),
            (0..<24).contains(hour), (0..<60).contains(minute), (0...60).contains(second),
            (1...31).contains(day), (1970...9999).contains(year)
        else { return nil }
        return self.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
