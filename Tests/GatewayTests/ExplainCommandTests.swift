import Foundation
import Testing

/// `gateway explain` as an operator runs it: the built executable reading a response from a file or from standard
/// input, with and without a config (SPEC section 1).
@Suite struct ExplainCommandTests {
    static let rateLimited = """
        HTTP/1.1 403 Forbidden\r
        Content-Type: application/json\r
        X-RateLimit-Remaining: 0\r
        X-RateLimit-Reset: 4102444800\r
        \r
        {"message": "API rate limit exceeded for 1.2.3.4.", "documentation_url": "https://docs.github.com/rest"}
        """

    /// Runs the executable with `input` as standard input (or none); output in temporary files, removed after.
    static func explain(_ arguments: [String], input: String? = nil) async throws -> CommandLineTests.Run {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("explain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var inputPath = "/dev/null"
        if let input {
            let inURL = directory.appendingPathComponent("in")
            try Data(input.utf8).write(to: inURL)
            inputPath = inURL.path
        }
        return try await CommandLineTests.Child(["explain"] + arguments, inputPath: inputPath).finish()
    }

    @Test func fromAFileExplainsEachMember() async throws {
        let file = try writeTemporaryConfig(Self.rateLimited)
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: file).deletingLastPathComponent()) }
        let run = try await Self.explain([file])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix("HTTP/1.1 403\nContent-Type: application/problem+json\nRetry-After: "))
        #expect(run.stdout.contains(#""code": "rate_limited""#))
        #expect(run.stdout.contains(#""detail": "API rate limit exceeded for 1.2.3.4.""#))
        #expect(run.stdout.contains(#""retryable": true"#))
        let why = try #require(run.stdout.components(separatedBy: "\nwhy:\n").last)
        #expect(why.contains("reader"))
        #expect(why.contains("rate_limited: header X-RateLimit-Remaining says the window is spent"), "\(why)")
        #expect(why.contains("the vendor's message at /message"), "\(why)")
        #expect(why.contains("from header X-RateLimit-Reset"), "\(why)")
        #expect(why.contains("upstream.code  null"), "\(why)")
    }

    @Test func fromStandardInput() async throws {
        let response = """
            HTTP/1.1 400 Bad Request
            Content-Type: application/x-amz-json-1.0

            {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "Requested resource not found"}
            """
        for arguments in [[], ["-"]] {
            let run = try await Self.explain(arguments, input: response)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains(#""code": "not_found""#))
            #expect(run.stdout.contains(#""code": "ResourceNotFoundException""#), "the namespace is dropped")
            #expect(run.stdout.contains("from /__type, namespace dropped"), "\(run.stdout)")
            #expect(run.stdout.contains("vendor code 'ResourceNotFoundException' matches vocabulary entry 'not found'"))
        }
    }

    @Test func withAConfigTheUpstreamsTablesApply() async throws {
        let config = try writeTemporaryConfig(
            """
            upstreams:
              vendor:
                url: http://127.0.0.1:9
                codes: { ACCOUNT_LOCKED: permission_denied }
              other:
                url: http://127.0.0.1:9
            routes:
              - path_prefix: /v/
                upstream: vendor
            """)
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: config).deletingLastPathComponent()) }
        let response =
            "HTTP/1.1 400 Bad Request\nContent-Type: application/json\n\n"
            + #"{"error": {"code": "ACCOUNT_LOCKED", "message": "The account is locked."}}"#
        let run = try await Self.explain(["--config", config, "--upstream", "vendor"], input: response)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(#""code": "permission_denied""#))
        #expect(run.stdout.contains("the config's codes: table maps 'ACCOUNT_LOCKED'"))
        #expect(run.stdout.contains(#""name": "vendor""#))

        let ambiguous = try await Self.explain(["--config", config], input: response)
        #expect(ambiguous.status == 1)
        #expect(ambiguous.stderr.contains("--upstream"), "\(ambiguous.stderr)")
        let unknown = try await Self.explain(["--config", config, "--upstream", "nope"], input: response)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no upstream named 'nope'"), "\(unknown.stderr)")
    }

    @Test func badInputIsRefusedClearly() async throws {
        let notAResponse = try await Self.explain([], input: #"{"error": "no status line"}"#)
        #expect(notAResponse.status == 1)
        #expect(notAResponse.stderr.contains("line 1: expected a status line"), "\(notAResponse.stderr)")
        let missing = try await Self.explain(["/nonexistent/response.http"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot open /nonexistent/response.http"))
    }

    @Test func successPassesThrough() async throws {
        let run = try await Self.explain([], input: "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{}")
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("passes through: 200 is not rewritten"))
    }
}
