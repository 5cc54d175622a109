import Foundation
import GatewayCore
import Testing

/// The documentation a clone carries (`README.md`, `docs/`, `deploy/README.md`) against the repository and the code:
/// every relative link resolves inside the repository, and the codes, metrics and subcommands it lists are the
/// ones the code has. (The configuration reference is checked against the loader in `GatewayConfigTests`.)
@Suite struct DocumentationTests {
    static let root = opsPackageRoot

    static var documents: [String] {
        let directory = root.appendingPathComponent("docs").path
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return ["README.md", "deploy/README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/\($0)" }
    }

    static func read(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// The text without fenced code blocks and inline code, where `](…)` is not a link.
    static func prose(_ text: String) -> String {
        var result: [Substring] = []
        var inFence = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                inFence.toggle()
                continue
            }
            if !inFence { result.append(line) }
        }
        return result.joined(separator: "\n").replacing(/`[^`\n]*`/, with: "")
    }

    /// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped, spaces as `-`.
    static func anchor(_ heading: String) -> String {
        String(
            heading.lowercased().compactMap { character -> Character? in
                if character == " " { return "-" }
                if character.isLetter || character.isNumber || character == "-" || character == "_" { return character }
                return nil
            })
    }

    static func anchors(of text: String) -> Set<String> {
        var result: Set<String> = []
        var inFence = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("```") { inFence.toggle() }
            guard !inFence, let match = line.firstMatch(of: /^#{1,6} +(.+)$/) else { continue }
            result.insert(self.anchor(String(match.1)))
        }
        return result
    }

    @Test func everyRelativeLinkResolvesInsideTheRepository() throws {
        #expect(Self.documents.count >= 8, "\(Self.documents)")
        var checked = 0
        for document in Self.documents {
            let text = try Self.read(document)
            let directory = (document as NSString).deletingLastPathComponent
            for match in Self.prose(text).matches(of: /\]\(([^)\s]+)\)/) {
                let target = String(match.1)
                if target.hasPrefix("http://") || target.hasPrefix("https://") || target.hasPrefix("mailto:") {
                    continue
                }
                checked += 1
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                let file = String(parts[0])
                let resolved =
                    file.isEmpty
                    ? document : ((directory as NSString).appendingPathComponent(file) as NSString).standardizingPath
                let url = Self.root.appendingPathComponent(resolved).standardizedFileURL
                #expect(
                    url.path.hasPrefix(Self.root.standardizedFileURL.path + "/"),
                    "\(document): \(target) points outside the repository")
                #expect(
                    FileManager.default.fileExists(atPath: url.path), "\(document): \(target) does not exist")
                if parts.count == 2, resolved.hasSuffix(".md"), let targetText = try? Self.read(resolved) {
                    #expect(
                        Self.anchors(of: targetText).contains(String(parts[1])),
                        "\(document): \(target): no heading with that anchor in \(resolved)")
                }
            }
        }
        #expect(checked >= 20, "only \(checked) relative links found")
    }

    @Test func theReadmeLinksEveryDocsPage() throws {
        let readme = try Self.read("README.md")
        for document in Self.documents where document.hasPrefix("docs/") {
            #expect(readme.contains("](\(document))"), "README.md does not link \(document)")
        }
    }

    @Test func theCodesTableIsTheClosedSetOfCodes() throws {
        let text = try Self.read("docs/errors.md")
        var documented: [String: (status: String, retryable: String)] = [:]
        for line in text.split(separator: "\n") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 4, let code = cells[0].firstMatch(of: /^`([a-z_]+)`$/) else { continue }
            documented[String(code.1)] = (cells[1], cells[2])
        }
        #expect(Set(documented.keys) == Set(ErrorCode.all.map(\.rawValue)))
        for code in ErrorCode.all {
            guard let row = documented[code.rawValue] else { continue }
            #expect(
                row.status.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .contains(String(code.typicalStatus)),
                "\(code): documented status \(row.status), the gateway uses \(code.typicalStatus)")
            #expect(row.retryable == (code.isRetryable ? "yes" : "no"), "\(code): retryable")
        }
    }

    @Test func theMetricsTableListsEveryDeclaredMetric() throws {
        var declared: Set<String> = []
        for source in ["Sources/Gateway/GatewayMetrics.swift", "Sources/Gateway/ProcessMetrics.swift"] {
            for match in try Self.read(source).matches(of: /"((?:gateway|process)_[a-z0-9_]+)"/) {
                declared.insert(String(match.1))
            }
        }
        #expect(declared.contains("gateway_requests_total"), "cannot read the declared metric names")
        var documented: Set<String> = []
        for line in try Self.read("docs/metrics.md").split(separator: "\n") {
            if let match = line.firstMatch(of: /^\| `((?:gateway|process)_[a-z0-9_]+)` \|/) {
                documented.insert(String(match.1))
            }
        }
        let documentedOnly = documented.subtracting(declared).sorted()
        let declaredOnly = declared.subtracting(documented).sorted()
        #expect(documented == declared, "documented only: \(documentedOnly); declared only: \(declaredOnly)")
    }

    @Test func theCommandLinePageListsEverySubcommand() async throws {
        let help = try await CommandLineTests.run(["--help"])
        #expect(help.status == 0)
        let section = try #require(help.stdout.range(of: "SUBCOMMANDS:"), "\(help.stdout)")
        var subcommands: Set<String> = []
        let after = help.stdout[section.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
        for line in after.dropFirst() {
            guard line.hasPrefix("  ") else { break }
            // Wrapped abstracts are indented further; the closing "See 'gateway help …'" line is not a name.
            if !line.hasPrefix("    "), let name = line.split(separator: " ").first,
                name.wholeMatch(of: /[a-z][a-z-]*/) != nil
            {
                subcommands.insert(String(name))
            }
        }
        subcommands.remove("help")
        #expect(subcommands.count >= 5, "\(help.stdout)")
        var documented: Set<String> = []
        for line in try Self.read("docs/cli.md").split(separator: "\n") {
            if let match = line.firstMatch(of: /^\| `gateway ([a-z-]+)/) { documented.insert(String(match.1)) }
        }
        #expect(documented == subcommands)
    }
}
