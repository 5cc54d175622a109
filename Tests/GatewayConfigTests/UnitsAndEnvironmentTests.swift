import GatewayCore
import GatewayTestSupport
import Testing

@testable import GatewayConfig

@Suite("Units")
struct UnitsTests {
    static let validDurations: [(String, Duration)] = [
        ("250ms", .milliseconds(250)), ("2s", .seconds(2)), ("1m", .seconds(60)), ("1h", .seconds(3600)),
        ("1m30s", .seconds(90)), ("1h0m5s", .seconds(3605)), ("0s", .zero), ("1s500ms", .milliseconds(1500)),
        ("90s", .seconds(90)), ("0ms", .zero),
    ]
    static let invalidDurations = [
        "", "5", "-5s", "1.5s", "s", "1d", "1 s", "2S", "1s1m", "1s1s", " 1s", "1s ", "1ms2s", "99999999999999999999h",
        "+1s", "1sec",
    ]

    @Test("valid durations", arguments: validDurations)
    func validDuration(_ text: String, _ expected: Duration) {
        #expect(ConfigUnits.parseDuration(text) == expected)
    }

    @Test("invalid durations", arguments: invalidDurations)
    func invalidDuration(_ text: String) {
        #expect(ConfigUnits.parseDuration(text) == nil)
    }

    static let validSizes: [(String, Int)] = [
        ("512", 512), ("0", 0), ("512B", 512), ("16KiB", 16_384), ("10MiB", 10_485_760), ("1GiB", 1_073_741_824),
        ("2KB", 2000), ("3MB", 3_000_000), ("1GB", 1_000_000_000),
    ]
    static let invalidSizes = ["", "-1", "1.5MiB", "16kib", "16 KiB", "KiB", "10TiB", "99999999999999999999GiB", "1e3"]

    @Test("valid sizes", arguments: validSizes)
    func validSize(_ text: String, _ expected: Int) {
        #expect(ConfigUnits.parseSize(text) == expected)
    }

    @Test("invalid sizes", arguments: invalidSizes)
    func invalidSize(_ text: String) {
        #expect(ConfigUnits.parseSize(text) == nil)
    }

    static let validRates: [(String, Int, Duration)] = [
        ("100/s", 100, .seconds(1)), ("100/1m", 100, .seconds(60)), ("5000/1h", 5000, .seconds(3600)),
        ("20/30s", 20, .seconds(30)), ("1/m", 1, .seconds(60)), ("3/h", 3, .seconds(3600)),
        ("10/500ms", 10, .milliseconds(500)),
    ]
    static let invalidRates = ["100", "/s", "0/s", "-1/s", "100/", "100/0s", "100/week", "100/s/s", "1.5/s", "100 / s"]

    @Test("valid rates", arguments: validRates)
    func validRate(_ text: String, _ count: Int, _ period: Duration) {
        #expect(ConfigUnits.parseRate(text) == Rate(count: count, period: period))
    }

    @Test("invalid rates", arguments: invalidRates)
    func invalidRate(_ text: String) {
        #expect(ConfigUnits.parseRate(text) == nil)
    }

    @Test("data rates are whole bytes per second")
    func dataRates() {
        #expect(ConfigUnits.parseDataRate("1KiB/s") == 1024)
        #expect(ConfigUnits.parseDataRate("512/s") == 512)
        #expect(ConfigUnits.parseDataRate("60KB/1m") == 1000)
        #expect(ConfigUnits.parseDataRate("10MiB/1m") == 10 * 1024 * 1024 / 60)
        #expect(ConfigUnits.parseDataRate("3600/h") == 1)
        for invalid in ["fast", "0/s", "1KiB", "1KiB/", "/s", "1KiB/0s", "1/1m", "1 KiB/s", "-1/s", "1KiB/s/s"] {
            #expect(ConfigUnits.parseDataRate(invalid) == nil, "\(invalid)")
        }
    }

    @Test("random durations, formatted in the file's syntax, parse back to the same value")
    func durationRoundTrip() {
        var generator = SplitMix64(seed: 0x5EED_0001)
        let units: [(String, Int64)] = [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)]
        for _ in 0..<2000 {
            var text = ""
            var total: Int64 = 0
            for (unit, milliseconds) in units where Bool.random(using: &generator) || (text.isEmpty && unit == "ms") {
                let value = Int64.random(in: 0...100_000, using: &generator)
                text += "\(value)\(unit)"
                total += value * milliseconds
            }
            #expect(ConfigUnits.parseDuration(text) == .milliseconds(total), "\(text)")
        }
    }

    @Test("random sizes, formatted in the file's syntax, parse back to the same value")
    func sizeRoundTrip() {
        var generator = SplitMix64(seed: 0x5EED_0002)
        let units: [(String, Int)] = [
            ("", 1), ("B", 1), ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000),
            ("GB", 1_000_000_000),
        ]
        for _ in 0..<2000 {
            let (unit, multiplier) = units.randomElement(using: &generator)!
            let value = Int.random(in: 0...1_000_000, using: &generator)
            #expect(ConfigUnits.parseSize("\(value)\(unit)") == value * multiplier, "\(value)\(unit)")
        }
    }

    @Test("random rates parse back to the same count and period")
    func rateRoundTrip() {
        var generator = SplitMix64(seed: 0x5EED_0003)
        for _ in 0..<1000 {
            let count = Int.random(in: 1...1_000_000, using: &generator)
            let seconds = Int64.random(in: 1...86_400, using: &generator)
            #expect(ConfigUnits.parseRate("\(count)/\(seconds)s") == Rate(count: count, period: .seconds(seconds)))
        }
    }
}

@Suite("Environment substitution")
struct EnvironmentSubstitutionTests {
    static let environment = ["HOST": "api.example", "EMPTY": "", "PORT": "8443"]

    static let cases: [(String, EnvironmentSubstitution.Outcome)] = [
        ("plain", .success("plain")),
        ("${HOST}", .success("api.example")),
        ("https://${HOST}:${PORT}/v1", .success("https://api.example:8443/v1")),
        ("${MISSING:-fallback}", .success("fallback")),
        ("${EMPTY:-fallback}", .success("fallback")),
        ("${HOST:-fallback}", .success("api.example")),
        ("${MISSING:-}", .success("")),
        ("${EMPTY}", .success("")),
        ("${MISSING:-a:b/c}", .success("a:b/c")),
        ("pa$$word", .success("pa$word")),
        ("pa$word", .success("pa$word")),
        ("cost: 5$", .success("cost: 5$")),
        ("$${HOST}", .success("${HOST}")),
        ("${MISSING}", .failure("environment variable 'MISSING' is not set (write ${MISSING:-default} for a default)")),
        ("x${HOST", .failure("'${' without a closing '}'")),
        ("${}", .failure("'${}' is not a valid variable reference; names are [A-Za-z_][A-Za-z0-9_]*")),
        ("${1A}", .failure("'${1A}' is not a valid variable reference; names are [A-Za-z_][A-Za-z0-9_]*")),
    ]

    @Test("substitution rules", arguments: cases)
    func substitution(_ text: String, _ expected: EnvironmentSubstitution.Outcome) {
        #expect(EnvironmentSubstitution.substitute(text, environment: Self.environment) == expected)
    }

    @Test("substitution happens before unit parsing, in every kind of scalar")
    func beforeUnits() throws {
        let yaml = """
            server:
              idle_timeout: ${IDLE}
              max_body_bytes: "${BODY:-1MiB}"
              access_log: ${LOG:-false}
            """ + "\n" + minimalConfig.replacingFirst("https://a.example", with: "'https://${A_HOST}'")
        let configuration = try parseValid(yaml, environment: ["IDLE": "2m", "A_HOST": "a.internal:8080"])
        #expect(configuration.server.idleTimeout == .seconds(120))
        #expect(configuration.server.maxBodyBytes == 1 << 20)
        #expect(configuration.server.accessLog == false)
        #expect(configuration.upstreams["a"]?.url == UpstreamURL(scheme: .https, host: "a.internal", port: 8080))
    }

    @Test("a substituted value that is not valid is reported with the value it became")
    func substitutedValueInvalid() {
        let yaml = "server:\n  idle_timeout: ${IDLE}\n" + minimalConfig
        #expect(
            problemLines(yaml, environment: ["IDLE": "soon"]) == [
                "2:17: server.idle_timeout: expected a duration like 250ms, 2s, 1m; got 'soon'"
            ])
    }

    @Test("several unset variables are each reported at their scalar")
    func severalMissing() {
        let yaml = "server:\n  listen: ${LISTEN}\n  admin_listen: ${ADMIN}\n" + minimalConfig
        #expect(
            problemLines(yaml) == [
                "2:11: server.listen: environment variable 'LISTEN' is not set (write ${LISTEN:-default} for a default)",
                "3:17: server.admin_listen: environment variable 'ADMIN' is not set (write ${ADMIN:-default} for a default)",
            ])
    }

    @Test("keys are never substituted")
    func keysAreLiteral() {
        let yaml = "${SECTION}: {}\n" + minimalConfig
        #expect(
            problemLines(yaml, environment: ["SECTION": "server"]) == [
                "1:1: unknown key '${SECTION}' at the top level"
            ])
    }
}
