import Benchmark
import GatewayCore
import HTTPTypes

/// Inputs for the `GatewayCore` hot paths that every proxied request runs.
enum Inputs {
    /// 20 routes, the way a config with many vendors looks; methods restricted on every other one.
    static let routeTable = RouteTable(
        routes: (0..<20).map { index in
            RouteConfiguration(
                name: "vendor\(index)", pathPrefix: "/vendor\(index < 10 ? "0" : "")\(index)/", stripPrefix: true,
                upstream: "vendor\(index)", methods: index.isMultiple(of: 2) ? [.get, .post, .put, .delete] : nil)
        })

    static func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return fields
    }

    /// A browser-like request head of 20 fields, 4 of them hop-by-hop (one named by `Connection`).
    static let requestWithHopByHop = Self.fields([
        ("Host", "gateway.example.com"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"),
        ("Accept", "application/json"), ("Accept-Language", "en-US,en;q=0.5"), ("Accept-Encoding", "gzip, br"),
        ("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"),
        ("Content-Type", "application/json"), ("Content-Length", "512"), ("Connection", "keep-alive, X-Debug-Hop"),
        ("Keep-Alive", "timeout=5"), ("X-Debug-Hop", "1"), ("TE", "trailers"), ("Origin", "https://app.example.com"),
        ("Referer", "https://app.example.com/certificates"), ("X-Request-ID", "01JD3Q2J6V8M4W1N0A9C7T5B2E"),
        ("X-Forwarded-For", "203.0.113.7"), ("Idempotency-Key", "4f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"),
        ("Cookie", "session=abc123; theme=dark"), ("Cache-Control", "no-cache"), ("Pragma", "no-cache"),
    ])

    /// The same head without any hop-by-hop field: the common case, which should not copy.
    static let requestWithoutHopByHop = Self.fields([
        ("Host", "gateway.example.com"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"),
        ("Accept", "application/json"), ("Accept-Language", "en-US,en;q=0.5"), ("Accept-Encoding", "gzip, br"),
        ("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"),
        ("Content-Type", "application/json"), ("Content-Length", "512"), ("X-Debug", "1"),
        ("X-Client-Version", "4.2.0"), ("X-Tenant", "acme"), ("Sec-Fetch-Mode", "cors"),
        ("Origin", "https://app.example.com"),
        ("Referer", "https://app.example.com/certificates"), ("X-Request-ID", "01JD3Q2J6V8M4W1N0A9C7T5B2E"),
        ("X-Forwarded-For", "203.0.113.7"), ("Idempotency-Key", "4f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"),
        ("Cookie", "session=abc123; theme=dark"), ("Cache-Control", "no-cache"), ("Pragma", "no-cache"),
    ])

    static let now = 1_741_276_000
    static let retryAfterSeconds = Self.fields([("Content-Type", "application/json"), ("Retry-After", "7")])
    static let retryAfterDate = Self.fields([
        ("Content-Type", "application/json"), ("Retry-After", "Thu, 06 Mar 2025 16:00:00 GMT"),
    ])
    /// No `Retry-After`: every other header form is tried before the answer (Dokai's `X-Quota-*`).
    static let quotaHeaders = Self.fields([
        ("Content-Type", "application/json"), ("X-RateLimit-Limit", "600"), ("X-RateLimit-Remaining", "12"),
        ("X-RateLimit-Reset", "1741276060"), ("X-Quota-Limit", "10000"), ("X-Quota-Remaining", "0"),
        ("X-Quota-Reset", "1741305600"),
    ])
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000
    )

    let table = Inputs.routeTable
    let paths: [(String, Substring, Int?)] = [
        ("first", "/vendor00/certificates/42", 0),
        ("last", "/vendor19/certificates/42", 19),
        ("miss", "/unknown/certificates/42", nil),
    ]
    for (label, path, expected) in paths {
        switch table.match(path: path, method: .get) {
        case .success(let match): precondition(match.index == expected)
        case .failure: precondition(expected == nil)
        }
        Benchmark("RouteTable.match 20 routes (\(label))") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(table.match(path: path, method: .get))
            }
        }
    }

    for (label, fields, expectedCount) in [
        ("4 hop-by-hop", Inputs.requestWithHopByHop, 16), ("none", Inputs.requestWithoutHopByHop, 20),
    ] {
        // What forwarding does for each message: the `Connection` options once, then a check per field.
        func forwardedCount(_ fields: HTTPFields) -> Int {
            let options = HopByHopHeaders.connectionOptions(in: fields)
            return fields.count { !HopByHopHeaders.isHopByHop($0.name, connectionOptions: options) }
        }
        precondition(fields.count == 20)
        let kept = forwardedCount(fields)
        precondition(kept == expectedCount, "\(label): \(kept) fields left")
        Benchmark("hop-by-hop check, 20 fields (\(label))") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(forwardedCount(fields))
            }
        }
    }

    for (label, status, headers, expected) in [
        ("Retry-After seconds", 429, Inputs.retryAfterSeconds, 7),
        ("Retry-After HTTP-date", 503, Inputs.retryAfterDate, 800),
        ("X-Quota-Reset, last form tried", 402, Inputs.quotaHeaders, 29_600),
    ] {
        let seconds = RetryHint.seconds(status: status, headers: headers, nowUnixSeconds: Inputs.now)
        precondition(seconds == expected, "\(label): \(String(describing: seconds))")
        Benchmark("RetryHint.seconds (\(label))") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(RetryHint.seconds(status: status, headers: headers, nowUnixSeconds: Inputs.now))
            }
        }
    }
}
