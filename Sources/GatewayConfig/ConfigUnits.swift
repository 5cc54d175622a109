public import GatewayCore

/// The unit syntaxes of the configuration file (SPEC section 2, "Units").
///
/// - Durations: one or more `<integer><unit>` groups with units `h`, `m`, `s`, `ms`, largest first, each unit at
///   most once: `250ms`, `2s`, `1m`, `1h`, `1m30s`, `1h0m5s`. No sign, no fraction, no bare number.
/// - Sizes: a bare integer (bytes), or an integer followed by `B`, `KiB`, `MiB`, `GiB` (powers of 1024) or
///   `KB`, `MB`, `GB` (powers of 1000): `512`, `16KiB`, `10MiB`, `1GB`.
/// - Rates: `COUNT/PERIOD` where PERIOD is `s`, `m`, `h` (one of that unit) or a positive duration:
///   `100/s`, `100/1m`, `5000/1h`, `20/30s`.
///
/// - Data rates: `SIZE/PERIOD` with a size and a period as above: `1KiB/s`, `512/s`, `10MiB/1m`.
///
/// Every parser returns nil for anything else, including values that would overflow.
public enum ConfigUnits {
    /// Parses a duration such as `250ms` or `1m30s`.
    public static func parseDuration(_ text: some StringProtocol) -> Duration? {
        guard let milliseconds = self.parseMilliseconds(text) else { return nil }
        return .milliseconds(milliseconds)
    }

    /// Parses a size such as `16KiB` into bytes.
    public static func parseSize(_ text: some StringProtocol) -> Int? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int(digits) else { return nil }
        let multiplier: Int
        switch text.dropFirst(digits.count) {
        case "", "B": multiplier = 1
        case "KiB": multiplier = 1 << 10
        case "MiB": multiplier = 1 << 20
        case "GiB": multiplier = 1 << 30
        case "KB": multiplier = 1_000
        case "MB": multiplier = 1_000_000
        case "GB": multiplier = 1_000_000_000
        default: return nil
        }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// Parses a rate such as `100/1m` or `100/s`; the count and the period must both be positive.
    public static func parseRate(_ text: some StringProtocol) -> Rate? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
            let count = Int(parts[0]), count > 0
        else { return nil }
        let period: Duration
        switch parts[1] {
        case "s": period = .seconds(1)
        case "m": period = .seconds(60)
        case "h": period = .seconds(3600)
        default:
            guard let parsed = self.parseDuration(parts[1]), parsed > .zero else { return nil }
            period = parsed
        }
        return Rate(count: count, period: period)
    }

    /// Parses a data rate such as `1KiB/s` or `10MiB/1m` into whole bytes per second (at least 1).
    public static func parseDataRate(_ text: some StringProtocol) -> Int? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bytes = self.parseSize(parts[0]), bytes > 0 else { return nil }
        let periodMilliseconds: Int
        switch parts[1] {
        case "s": periodMilliseconds = 1_000
        case "m": periodMilliseconds = 60_000
        case "h": periodMilliseconds = 3_600_000
        default:
            guard let parsed = self.parseMilliseconds(parts[1]), parsed > 0 else { return nil }
            periodMilliseconds = parsed
        }
        let (scaled, overflow) = bytes.multipliedReportingOverflow(by: 1_000)
        let perSecond = overflow ? bytes / periodMilliseconds * 1_000 : scaled / periodMilliseconds
        return perSecond > 0 ? perSecond : nil
    }

    /// The total of the `<integer><unit>` groups in milliseconds.
    private static func parseMilliseconds(_ text: some StringProtocol) -> Int? {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total = 0
        var previousRank = Int.max
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Int(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let (rank, multiplier): (Int, Int)
            switch unit {
            case "h": (rank, multiplier) = (3, 3_600_000)
            case "m": (rank, multiplier) = (2, 60_000)
            case "s": (rank, multiplier) = (1, 1_000)
            case "ms": (rank, multiplier) = (0, 1)
            default: return nil
            }
            guard rank < previousRank else { return nil }
            previousRank = rank
            let (part, overflow) = value.multipliedReportingOverflow(by: multiplier)
            let (sum, sumOverflow) = total.addingReportingOverflow(part)
            guard !overflow, !sumOverflow else { return nil }
            total = sum
        }
        return total
    }
}
