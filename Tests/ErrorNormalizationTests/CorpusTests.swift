import ErrorNormalization
import Foundation
import GatewayCore
import NIOCore
import Testing
import Yams

/// The corpus of real vendors' error responses (`Tests/ErrorCorpus/`, see its README): every case normalized under
/// `dialect: auto`, every expected member scored. The product's promise is one error contract whatever the vendor;
/// this is where that promise is measured.
@Suite struct CorpusTests {
    /// The share of members that must come out right.
    static let requiredScore = 0.98

    @Test func corpusIsBigAndVariedEnough() throws {
        let corpus = try Corpus.load()
        #expect(corpus.cases.count >= 150, "cases: \(corpus.cases.count)")
        #expect(Set(corpus.cases.map(\.vendor)).count >= 50, "vendors: \(Set(corpus.cases.map(\.vendor)).count)")
        let ids = corpus.cases.map(\.id)
        #expect(
            Set(ids).count == ids.count,
            "duplicate ids: \(Dictionary(grouping: ids, by: { $0 }).filter { $1.count > 1 }.keys.sorted())")
        for item in corpus.cases {
            #expect(!item.source.isEmpty, "\(item.id) has no source")
        }
    }

    @Test func corpusScoresAtLeastNinetyEightPercent() throws {
        let corpus = try Corpus.load()
        var scored = 0
        var right = 0
        var misses: [String] = []
        for item in corpus.cases {
            let outcome = item.score()
            scored += outcome.total
            right += outcome.total - outcome.misses.count
            misses += outcome.misses.map { "\(item.id): \($0)" }
        }
        let score = Double(right) / Double(max(1, scored))
        let summary =
            "corpus: \(corpus.cases.count) cases from \(Set(corpus.cases.map(\.vendor)).count) vendors, "
            + "\(right)/\(scored) members right (\(String(format: "%.1f", score * 100)) %)"
        print(summary)
        for miss in misses { print("  miss \(miss)") }
        #expect(score >= Self.requiredScore, "\(summary)\n\(misses.joined(separator: "\n"))")
    }
}

/// The corpus files, read.
struct Corpus {
    struct Case {
        var id: String
        var vendor: String
        var source: String
        var response: String
        var expect: [String: Any]

        /// The members scored and the misses, each as `member: expected …, got …`.
        func score() -> (total: Int, misses: [String]) {
            let parsed: HTTPResponseText
            do {
                parsed = try HTTPResponseText(parsing: Array(self.response.utf8))
            } catch {
                return (1, ["response does not parse: \(error)"])
            }
            var context = Fixture.context(upstream: "vendor", expose: .all)
            context.nowUnixSeconds = Corpus.now
            context.upstream.errorsInSuccess = true
            let normalizer = ErrorNormalizer()
            let envelope: ProblemDocument
            if parsed.status >= 400 {
                envelope = normalizer.normalize(
                    status: parsed.status, headers: parsed.headers, body: ByteBuffer(bytes: parsed.body),
                    bodyComplete: true, context: context)
            } else if let found = normalizer.normalizeSuccess(
                status: parsed.status, headers: parsed.headers, body: ByteBuffer(bytes: parsed.body), context: context)
            {
                envelope = found
            } else {
                return (1, ["a \(parsed.status) whose body is not recognised as an error passes through"])
            }
            var misses: [String] = []
            func check(_ member: String, _ expected: String?, _ got: String?) {
                if expected != got {
                    misses.append("\(member): expected \(expected.debugDescription), got \(got.debugDescription)")
                }
            }
            let expectedCode = self.expect["code"] as? String
            check("code", expectedCode, envelope.code.rawValue)
            check("upstream_code", Self.text(self.expect["upstream_code"]), envelope.upstream?.code)
            let neutral = expectedCode.flatMap(ErrorCode.init(rawValue:))?.neutralDetail
            check("detail", Self.text(self.expect["detail"]) ?? neutral, envelope.detail)
            check("retryable", (self.expect["retryable"] as? Bool).map { "\($0)" }, "\(envelope.retryable)")
            check("retry_after", Self.text(self.expect["retry_after"]), envelope.retryAfter.map { "\($0)" })
            let expectedErrors = (self.expect["errors"] as? [[String: Any]]) ?? []
            let expectedText = expectedErrors.map { item in
                var text = "\(Self.text(item["field"]) ?? "-"): \(Self.text(item["detail"]) ?? "")"
                if let pointer = Self.text(item["pointer"]) { text += " @\(pointer)" }
                return text
            }
            let gotText = envelope.errors.enumerated().map { index, item in
                var text = "\(item.field ?? "-"): \(item.detail)"
                if index < expectedErrors.count, Self.text(expectedErrors[index]["pointer"]) != nil {
                    text += " @\(item.pointer ?? "nil")"
                }
                return text
            }
            if expectedText != gotText {
                misses.append("errors: expected \(expectedText), got \(gotText)")
            }
            return (6, misses)
        }

        static func text(_ value: Any?) -> String? {
            switch value {
            case nil, is NSNull: return nil
            case let text as String: return text
            case let number as Int: return String(number)
            case let number as Double: return String(number)
            case let flag as Bool: return String(flag)
            default: return value.map { "\($0)" }
            }
        }
    }

    /// The instant the corpus's dates and reset timestamps are written against (README).
    static let now = 1_741_276_000

    var cases: [Case]

    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ErrorCorpus")
    }

    static func load() throws -> Corpus {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        var cases: [Case] = []
        for file in files {
            let text = try String(contentsOf: Self.directory.appendingPathComponent(file), encoding: .utf8)
            guard let document = try Yams.load(yaml: text) as? [String: Any],
                let vendor = document["vendor"] as? String, let items = document["cases"] as? [[String: Any]]
            else {
                Issue.record("\(file): not a corpus file (vendor, kind, cases)")
                continue
            }
            for item in items {
                guard let id = item["id"] as? String, let response = item["response"] as? String,
                    let expect = item["expect"] as? [String: Any]
                else {
                    Issue.record("\(file): a case lacks id, response or expect")
                    continue
                }
                cases.append(
                    Case(
                        id: id, vendor: vendor, source: (item["source"] as? String) ?? "", response: response,
                        expect: expect))
            }
        }
        return Corpus(cases: cases)
    }
}
