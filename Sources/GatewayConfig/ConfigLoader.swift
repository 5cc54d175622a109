public import GatewayCore
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a YAML configuration file into a validated `GatewayConfiguration` (SPEC section 2), or every problem
/// of the file with its position.
///
/// This is the only place in the gateway that reads YAML or the environment: the environment is injected, so that
/// tests and `check-config` see exactly what `serve` would. Reading goes YAML text → Yams nodes (which keep their
/// line and column) → one small reader per section, each recording problems instead of stopping at the first.
public struct ConfigLoader: Sendable {
    /// The variables `${NAME}` reads.
    public var environment: [String: String]
    /// Names accepted for `dialect:` besides `auto` (built-in families and vendor presets; the normalizer supplies
    /// them, so this module knows none).
    public var knownDialects: Set<String>

    /// - Parameters:
    ///   - environment: the variables for `${NAME}` substitution, usually the process environment.
    ///   - knownDialects: names of the built-in dialects and presets accepted for `dialect:`.
    public init(environment: [String: String], knownDialects: Set<String>) {
        self.environment = environment
        self.knownDialects = knownDialects
    }

    /// Reads and validates the file at `path`.
    ///
    /// - Throws: `ConfigError` with every problem; an unreadable file is one problem at line 1, column 1.
    public func load(path: String) throws(ConfigError) -> GatewayConfiguration {
        switch ConfigFile.read(path: path) {
        case .success(let text):
            return try self.parse(yaml: text, file: path)
        case .failure(let reason):
            throw ConfigError(problems: [ConfigProblem(file: path, line: 1, column: 1, message: reason.message)])
        }
    }

    /// Validates YAML text; `file` is only used to name the problems.
    ///
    /// - Throws: `ConfigError` with every problem, sorted by line, then column.
    public func parse(yaml: String, file: String) throws(ConfigError) -> GatewayConfiguration {
        let recorder = ProblemRecorder(file: file, environment: self.environment)
        let configuration = DuplicateKeys.compose(yaml: yaml, recorder: recorder).flatMap { root in
            GatewayConfigurationReader(knownDialects: self.knownDialects).read(
                ConfigNode(node: root, path: "", keyMark: nil, recorder: recorder))
        }
        guard recorder.isEmpty, let configuration else {
            var problems = recorder.problems
            if problems.isEmpty {
                problems = [ConfigProblem(file: file, line: 1, column: 1, message: "the configuration is invalid")]
            }
            throw ConfigError(problems: problems)
        }
        return configuration
    }
}

/// The top level of the file: which sections exist, which are required, and the order they are read in (routes
/// last, because they refer to upstreams and policies).
struct GatewayConfigurationReader {
    let knownDialects: Set<String>

    static let keys = ["server", "errors", "rate_limit_store", "rate_limits", "upstreams", "routes"]

    func read(_ root: ConfigNode) -> GatewayConfiguration? {
        guard case .mapping = root.node else {
            root.problem("expected a mapping with the keys \(Self.keys.joined(separator: ", ")); got \(root.shape)")
            return nil
        }
        guard let fields = root.mapping(allowedKeys: Self.keys) else { return nil }
        let server = fields["server"].map(ServerSection.read) ?? ServerConfiguration()
        let errors = fields["errors"].map(ServerSection.readErrors) ?? ErrorsConfiguration()
        let store = fields["rate_limit_store"].map(RateLimitSection.readStore) ?? .memory
        let policiesNode = fields["rate_limits"]
        let policies = policiesNode.map(RateLimitSection.readPolicies) ?? []
        let upstreamsNode = fields.required("upstreams")
        let upstreams = upstreamsNode.map(UpstreamSection(knownDialects: self.knownDialects).read) ?? [:]
        let routes = fields.required("routes").map { node in
            RouteSection.read(
                node,
                upstreams: upstreamsNode.flatMap(\.quietKeys),
                policies: policiesNode == nil ? [] : policiesNode.flatMap(\.quietKeys))
        }
        guard let routes else { return nil }
        return GatewayConfiguration(
            server: server, errors: errors, rateLimitStore: store, rateLimits: policies, upstreams: upstreams,
            routes: routes)
    }
}

extension ConfigNode {
    /// The keys of a mapping (nothing reads as none), without recording anything; nil for any other node.
    var quietKeys: Set<String>? {
        if self.isNull { return [] }
        guard case .mapping(let mapping) = self.node else { return nil }
        return Set(mapping.keys.compactMap(\.string))
    }
}

/// Yams rejects a mapping with a repeated key by throwing, which would end the read at the first duplicate. This
/// reports the duplicate at its own position, renames it out of the way, and composes again, so that the rest of
/// the file is still checked. Renamed keys carry `marker` and are skipped by `ConfigNode.entries()`.
enum DuplicateKeys {
    static let marker = "__gateway_duplicate_key_"

    /// The root node of `yaml`, or nil with the problems recorded.
    static func compose(yaml: String, recorder: ProblemRecorder) -> Node? {
        var text = yaml
        for attempt in 0..<1000 {
            do {
                guard let root = try Yams.compose(yaml: text) else {
                    recorder.record(
                        "the file is empty; expected a mapping with at least upstreams and routes", line: 1, column: 1)
                    return nil
                }
                return root
            } catch let error as YamlError {
                guard case .duplicatedKeysInMapping(let duplicates, let context) = error, let key = duplicates.first,
                    let (renamed, position) = self.renameSecond(
                        of: key, after: context.mark, in: text, attempt: attempt)
                else {
                    YAMLSyntaxProblem.record(error, in: text, recorder: recorder)
                    return nil
                }
                recorder.record(
                    "duplicate key '\(key)' (first at line \(context.mark.line))", line: position.line,
                    column: position.column)
                text = renamed
            } catch {
                recorder.record("cannot read the YAML: \(error)", line: 1, column: 1)
                return nil
            }
        }
        recorder.record("too many duplicate keys", line: 1, column: 1)
        return nil
    }

    /// Finds the next occurrence of `key` at the same column below `first`, in the same block mapping, and returns
    /// the text with it renamed, and its position.
    static func renameSecond(
        of key: String, after first: Mark, in text: String, attempt: Int
    ) -> (String, (line: Int, column: Int))? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        let column = first.column - 1
        guard first.line >= 1, first.line <= lines.count else { return nil }
        let spellings = [key, "\"\(key)\"", "'\(key)'"].map { Array($0.unicodeScalars) }
        for index in first.line..<lines.count {
            let line = lines[index]
            guard let firstText = line.firstIndex(where: { $0 != " " && $0 != "-" }) else { continue }
            if line[firstText] == "#" { continue }
            if firstText < column { return nil }
            guard firstText == column else { continue }
            for spelling in spellings where line[column...].starts(with: spelling) {
                let after = line[(column + spelling.count)...].drop { $0 == " " }
                guard after.first == ":" else { continue }
                let replacement = Array("\(self.marker)\(attempt)".unicodeScalars)
                lines[index].replaceSubrange(column..<(column + spelling.count), with: replacement)
                var view = String.UnicodeScalarView()
                for (number, scalars) in lines.enumerated() {
                    if number > 0 { view.append("\n") }
                    view.append(contentsOf: scalars)
                }
                return (String(view), (index + 1, column + 1))
            }
        }
        return nil
    }
}

/// A YAML syntax error as a problem at its position.
enum YAMLSyntaxProblem {
    static func record(_ error: YamlError, in text: String, recorder: ProblemRecorder) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            recorder.record(message, line: mark.line, column: mark.column)
        case .reader(let problem, let offset, _, _):
            let position = self.position(ofByteOffset: offset ?? 0, in: text)
            recorder.record("YAML syntax error: \(problem)", line: position.line, column: position.column)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            recorder.record("duplicate key \(keys)", line: context.mark.line, column: context.mark.column)
        default:
            recorder.record("cannot read the YAML: \(error)", line: 1, column: 1)
        }
    }

    static func position(ofByteOffset offset: Int, in text: String) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in text.utf8.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}

/// Reads the configuration file without Foundation.
enum ConfigFile {
    struct Failure: Error {
        var message: String
    }

    /// Files larger than this are refused; a configuration is a few kilobytes.
    static let maximumSize = 16 << 20

    static func read(path: String) -> Result<String, Failure> {
        guard let file = fopen(path, "rb") else {
            return .failure(Failure(message: "cannot open the file: \(String(cString: strerror(errno)))"))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            bytes.append(contentsOf: chunk[..<count])
            if bytes.count > self.maximumSize {
                return .failure(Failure(message: "the file is larger than \(self.maximumSize >> 20) MiB"))
            }
            if count < chunk.count {
                if ferror(file) != 0 {
                    return .failure(Failure(message: "cannot read the file: \(String(cString: strerror(errno)))"))
                }
                break
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(Failure(message: "the file is not valid UTF-8"))
        }
        return .success(text)
    }
}
