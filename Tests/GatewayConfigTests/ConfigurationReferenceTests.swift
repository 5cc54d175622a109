import Foundation
import GatewayConfig
import GatewayCore
import Testing
import Yams

/// `docs/configuration.md` is held to the loader: the keys its tables list are exactly the keys the loader accepts,
/// the defaults it writes as single values are the loader's, and its complete example loads and uses every key.
@Suite struct ConfigurationReferenceTests {
    static let referencePath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/configuration.md").path

    /// One row of a key table: the key path, and the default when the cell is exactly one backticked value.
    struct Row {
        var key: String
        var literalDefault: String?
    }

    static func reference() throws -> String {
        try String(contentsOfFile: self.referencePath, encoding: .utf8)
    }

    /// The rows of every table whose first cell is a backticked key path: `| key | value | default | … |`.
    static func rows(of text: String) -> [Row] {
        text.split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            // "", key, value, default, what, "" for a row of a four-column table.
            guard cells.count >= 6, let key = Self.singleLiteral(cells[1]) else { return nil }
            return Row(key: key, literalDefault: Self.singleLiteral(cells[3]))
        }
    }

    /// The text of a cell that is exactly one backticked value, e.g. "`30s`" → "30s".
    static func singleLiteral(_ cell: String) -> String? {
        guard cell.count >= 2, cell.hasPrefix("`"), cell.hasSuffix("`") else { return nil }
        let inner = cell.dropFirst().dropLast()
        return inner.contains("`") ? nil : String(inner)
    }

    /// The first ```yaml block after the heading "## A complete example".
    static func completeExample(of text: String) throws -> String {
        let section = try #require(text.range(of: "## A complete example"), "no complete example in the reference")
        let rest = text[section.upperBound...]
        let start = try #require(rest.range(of: "```yaml\n"))
        let end = try #require(rest[start.upperBound...].range(of: "\n```"))
        return String(rest[start.upperBound..<end.lowerBound]) + "\n"
    }

    @Test func theTablesListExactlyTheKeysTheLoaderAccepts() throws {
        let documented = Self.rows(of: try Self.reference()).map(\.key)
        let accepted = ConfigSchema.keyPaths
        #expect(Set(accepted).count == accepted.count, "the schema lists a key twice")
        let duplicates = Dictionary(grouping: documented, by: { $0 }).filter { $0.value.count > 1 }.keys
        #expect(duplicates.isEmpty, "documented twice: \(duplicates.sorted())")
        let undocumented = Set(accepted).subtracting(documented)
        let unknown = Set(documented).subtracting(accepted)
        #expect(undocumented.isEmpty, "accepted, missing from docs/configuration.md: \(undocumented.sorted())")
        #expect(unknown.isEmpty, "in docs/configuration.md, but the loader does not accept: \(unknown.sorted())")
    }

    @Test func theCompleteExampleLoadsAndUsesEveryKey() throws {
        let example = try Self.completeExample(of: try Self.reference())
        _ = try ConfigLoader(environment: [:], knownDialects: testDialects).parse(yaml: example, file: "example.yaml")
        _ = try ConfigLoader(environment: ["TENANT": "acme"], knownDialects: testDialects)
            .parse(yaml: example, file: "example.yaml")

        let root = try #require(try Yams.compose(yaml: example))
        var used: Set<String> = []
        Self.collectKeyPaths(root, path: "", into: &used)
        let unused = Set(ConfigSchema.keyPaths).subtracting(used)
        #expect(unused.isEmpty, "the complete example does not use: \(unused.sorted())")
    }

    /// Key paths of `node` in the schema's notation: user-chosen names (children of `rate_limits`, `upstreams`,
    /// `codes`, `headers.set`) become `<name>`, sequence items of `routes` become `routes[]`.
    static func collectKeyPaths(_ node: Node, path: String, into paths: inout Set<String>) {
        switch node {
        case .mapping(let mapping):
            // Any name is accepted inside these: they are not keys of the schema.
            if path.hasSuffix(".codes") || path.hasSuffix(".headers.set") { return }
            for (key, value) in mapping {
                guard let name = key.string else { continue }
                let namedByUser = path == "rate_limits" || path == "upstreams"
                let child = namedByUser ? "\(path).<name>" : (path.isEmpty ? name : "\(path).\(name)")
                if !namedByUser { paths.insert(child) }
                Self.collectKeyPaths(value, path: child, into: &paths)
            }
        case .sequence(let sequence) where path == "routes":
            for item in sequence { Self.collectKeyPaths(item, path: "routes[]", into: &paths) }
        default:
            break
        }
    }

    /// Writing every documented single-value default explicitly changes nothing: the loaded configuration equals
    /// the one where those keys are left out.
    @Test func theDocumentedDefaultsAreTheLoadersDefaults() throws {
        let defaults = Self.rows(of: try Self.reference()).compactMap { row in
            row.literalDefault.map { (row.key, $0) }
        }
        #expect(defaults.count >= 35, "only \(defaults.count) defaults found: is the table format unchanged?")
        // The keys this skeleton sets are required, or their section must exist for the defaults under it to apply.
        let skeleton: [(String, String)] = [
            ("rate_limit_store.kind", "redis"), ("rate_limit_store.url", "redis://127.0.0.1:6379/0"),
            ("rate_limits.<name>.rate", "10/1s"),
            ("upstreams.<name>.url", "https://a.example"), ("upstreams.<name>.circuit_breaker", "{}"),
            ("routes[].path_prefix", "/a/"), ("routes[].upstream", "a"),
        ]
        let skeletonKeys = Set(skeleton.map(\.0))
        let explicit = skeleton + defaults.filter { !skeletonKeys.contains($0.0) }
        let bare = try parseValid(Self.yaml(skeleton))
        let spelledOut = try parseValid(Self.yaml(explicit))
        #expect(spelledOut.server == bare.server)
        #expect(spelledOut.errors == bare.errors)
        #expect(spelledOut.rateLimitStore == bare.rateLimitStore)
        #expect(spelledOut.rateLimits == bare.rateLimits)
        #expect(spelledOut.upstreams == bare.upstreams)
        #expect(spelledOut.routes == bare.routes)
        #expect(spelledOut == bare)

        // And the check can fail: one documented default written differently is a different configuration.
        let altered = explicit.map { $0.0 == "server.drain_timeout" ? ($0.0, "31s") : $0 }
        #expect(try parseValid(Self.yaml(altered)) != bare)
    }

    /// A YAML file from `(key path, value)` pairs: `<name>` becomes `a` under `upstreams`, `p` under `rate_limits`;
    /// `routes[]` becomes the one item of `routes`. Values are written as they are (flow YAML allowed).
    static func yaml(_ pairs: [(String, String)]) -> String {
        final class Tree {
            var children: [(String, Tree)] = []
            var value: String?
            func child(_ name: String) -> Tree {
                if let found = self.children.first(where: { $0.0 == name }) { return found.1 }
                let tree = Tree()
                self.children.append((name, tree))
                return tree
            }
            func render(indent: Int) -> String {
                let pad = String(repeating: " ", count: indent)
                return self.children.map { name, tree in
                    // A value given for a section whose keys are given too (`circuit_breaker: {}`) yields to them.
                    if let value = tree.value, tree.children.isEmpty { return "\(pad)\(name): \(value)\n" }
                    if name == "routes" {
                        return "\(pad)routes:\n\(pad)  -\n" + tree.render(indent: indent + 4)
                    }
                    return "\(pad)\(name):\n" + tree.render(indent: indent + 2)
                }.joined()
            }
        }
        let root = Tree()
        for (path, value) in pairs {
            let parts = path.replacingOccurrences(of: "upstreams.<name>", with: "upstreams.a")
                .replacingOccurrences(of: "rate_limits.<name>", with: "rate_limits.p")
                .replacingOccurrences(of: "routes[]", with: "routes")
                .split(separator: ".").map(String.init)
            var node = root
            for part in parts { node = node.child(part) }
            node.value = value
        }
        return root.render(indent: 0)
    }
}
