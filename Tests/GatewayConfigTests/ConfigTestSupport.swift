import GatewayConfig
import GatewayCore

/// The smallest valid file: one upstream, one route. Cases put their own lines before or after it.
let minimalConfig = """
    upstreams:
      a:
        url: https://a.example
    routes:
      - path_prefix: /a/
        upstream: a

    """

/// The names the normalizer module will supply.
let testDialects: Set<String> = ["laravel", "problem_json", "dokstamp", "certifier", "docyard", "dokai", "stemp"]

/// Problems of `yaml` as `LINE:COLUMN: message`, in the order reported; empty when the file is valid.
func problemLines(
    _ yaml: String, environment: [String: String] = [:], dialects: Set<String> = testDialects
) -> [String] {
    do {
        _ = try ConfigLoader(environment: environment, knownDialects: dialects).parse(yaml: yaml, file: "test.yaml")
        return []
    } catch {
        return error.problems.map { "\($0.line):\($0.column): \($0.message)" }
    }
}

/// Parses a file that must be valid.
func parseValid(
    _ yaml: String, environment: [String: String] = [:], dialects: Set<String> = testDialects
) throws -> GatewayConfiguration {
    try ConfigLoader(environment: environment, knownDialects: dialects).parse(yaml: yaml, file: "test.yaml")
}

/// A small deterministic generator (SplitMix64) so that property tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
