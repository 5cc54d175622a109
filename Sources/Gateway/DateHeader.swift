import GatewayCore
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `Date` header value, formatted at most once a second for the whole process.
enum DateHeader {
    private static let cache = NIOLockedValueBox<(second: Int, text: String)>((-1, ""))

    /// The current Unix time in whole seconds.
    static func unixSeconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int(now.tv_sec)
    }

    /// The current time as an IMF-fixdate.
    static func now() -> String {
        let second = Self.unixSeconds()
        return Self.cache.withLockedValue { cache in
            if cache.second != second {
                cache = (second, HTTPDate.format(unixSeconds: second))
            }
            return cache.text
        }
    }
}

extension DateHeader {
    /// The current Unix time in milliseconds.
    static func unixMilliseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int(now.tv_sec) * 1000 + Int(now.tv_nsec) / 1_000_000
    }
}
