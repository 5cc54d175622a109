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
        let time = "\(two(secondsOfDay / 3600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60))"
        return "\(weekday), \(two(day)) \(monthName) \(year) \(time) GMT"
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
