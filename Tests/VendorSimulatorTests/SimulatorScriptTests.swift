import Testing

@testable import VendorSimulator

@Suite("Reading control parameters")
struct SimulatorScriptTests {
    @Test("sizes accept bytes and binary suffixes")
    func sizes() {
        #expect(SimulatorScript.parseSize("1024") == 1024)
        #expect(SimulatorScript.parseSize("16KiB") == Int64(16_384))
        #expect(SimulatorScript.parseSize("50MiB") == 50 << 20)
        #expect(SimulatorScript.parseSize("1GiB") == 1 << 30)
        #expect(SimulatorScript.parseSize("2g") == 2 << 30)
        #expect(SimulatorScript.parseSize("-1") == nil)
        #expect(SimulatorScript.parseSize("lots") == nil)
        #expect(SimulatorScript.parseSize("99999999999999GiB") == nil)
    }

    @Test("durations accept ms, s, m and bare milliseconds")
    func durations() {
        #expect(SimulatorScript.parseDuration("250ms") == .milliseconds(250))
        #expect(SimulatorScript.parseDuration("2s") == .seconds(2))
        #expect(SimulatorScript.parseDuration("1.5s") == .milliseconds(1500))
        #expect(SimulatorScript.parseDuration("1m") == .seconds(60))
        #expect(SimulatorScript.parseDuration("40") == .milliseconds(40))
        #expect(SimulatorScript.parseDuration("soon") == nil)
        #expect(SimulatorScript.parseDuration("-5ms") == nil)
    }

    @Test("durations too long to schedule are refused, never trapped on")
    func hugeDurations() {
        #expect(SimulatorScript.parseDuration("1e300s") == nil)
        #expect(SimulatorScript.parseDuration("1e300") == nil)
        #expect(SimulatorScript.parseDuration("99999999999999999999ms") == nil)
        #expect(SimulatorScript.parseDuration("9223372036854775807") == nil)
        #expect(SimulatorScript.parseDuration("1e15m") == nil)
        #expect(SimulatorScript.parseDuration("1h") == nil)
        #expect(SimulatorScript.parseDuration("60m") == .seconds(3600))
    }

    @Test("query wins over X-Sim-* headers; unknown parameters are ignored; fail_mode alone always fails")
    func precedence() throws {
        let script = try SimulatorScript.parse(
            query: "error=validation&page=2&body=a%2Bb+c",
            headers: [("X-Sim-Error", "server"), ("X-Sim-Fail-Mode", "reset"), ("Host", "x")]
        )
        #expect(script.error == "validation")
        #expect(script.body == "a+b c")
        #expect(script.failMode == .reset)
        #expect(script.fail == Int.max)
        #expect(throws: SimulatorScript.InvalidParameter(name: "fail_mode", value: "explode")) {
            try SimulatorScript.parse(query: "fail_mode=explode", headers: [])
        }
    }

    @Test("templates resolve to Unix time plus the offset")
    func templates() {
        #expect(VendorErrorExample.resolveTemplate("{unix+30}", unixTime: 1_000) == "1030")
        #expect(VendorErrorExample.resolveTemplate("at {unix+5}s", unixTime: 10) == "at 15s")
        #expect(VendorErrorExample.resolveTemplate("60", unixTime: 10) == "60")
    }

    @Test("base64 matches RFC 4648 test vectors")
    func base64() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE="]
        for (input, output) in vectors {
            #expect(JSONText.base64(Array(input.utf8)) == output)
        }
    }

    @Test("JSON escaping of quotes, backslashes and control characters")
    func escaping() {
        #expect(JSONText.quote("a\"b\\c\n\u{1}") == #""a\"b\\c\n\u0001""#)
    }
}
