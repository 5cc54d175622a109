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
