import CurlTransport
import ErrorNormalization

/// What the `gateway` command needs from the libraries behind the proxy, so that the executable imports `Gateway`
/// alone: the process set-up libcurl requires, its version line, and the list of built-in dialects.
public enum GatewayEnvironment {
    /// `curl_global_init` and `SIGPIPE` ignored: call it first thing in `main`, before any other thread starts.
    public static func prepareProcess() {
        CurlEngine.globalInit()
    }

    /// The linked libcurl: version, TLS library, features (for `gateway version` and the startup log).
    public static var libcurlDescription: String {
        CurlEngine.versionDescription
    }

    /// The built-in dialects and vendor presets, each with its one-line summary (`gateway dialects`).
    public static var dialects: [(name: String, summary: String)] {
        ErrorNormalizer.catalog.map { ($0.name, $0.summary) }
    }
}
