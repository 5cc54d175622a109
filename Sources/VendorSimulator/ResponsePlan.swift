/// What the connection handler does for one request: decided by ``ResponsePlan/make(request:script:failing:unixTime:)``
/// without any I/O, carried out by the handler.
enum ResponsePlan: Sendable {
    /// A complete response, framed with `Content-Length`.
    case respond(VendorEndpoints.Answer)
    /// A generated body of `size` bytes, streamed in 64 KiB chunks.
    case stream(status: Int, headers: [(name: String, value: String)], size: Int64, chunked: Bool)
    /// Bytes written on the socket as they are, bypassing the HTTP encoder; the connection is then closed.
    case raw([UInt8])
    /// Close the connection with RST before any response byte.
    case reset
    /// Close the connection cleanly before any response byte.
    case close
    /// Never answer.
    case hang

    /// The bytes `fail_mode=garbage` writes: not an HTTP response.
    static let garbage: [UInt8] = Array("\u{1}\u{2}GARBAGE not http at all\r\n\r\n".utf8)

    /// Decides the response to a request.
    /// - Parameters:
    ///   - request: the request as received.
    ///   - script: its control parameters, or why they could not be read.
    ///   - failing: whether this request is one of the first `fail=N` of its key.
    ///   - unixTime: the current Unix time, for `{unix+N}` header templates.
    static func make(
        request: RecordedRequest,
        script parsedScript: Result<SimulatorScript, SimulatorScript.InvalidParameter>,
        failing: Bool,
        unixTime: Int
    ) -> ResponsePlan {
        let script: SimulatorScript
        switch parsedScript {
        case .success(let parsed):
            script = parsed
        case .failure(let invalid):
            return .respond(
                Self.simulatorError(
                    "invalid value '\(invalid.value)' for control parameter '\(invalid.name)'"
                )
            )
        }
        let (path, _) = RecordedRequest.split(target: request.target)
        let segments = path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true)
        let vendor = segments.first.map(String.init) ?? ""
        let rest = segments.count > 1 ? "/" + segments[1] : ""

        if script.hang {
            return .hang
        }
        if failing {
            switch script.failMode {
            case .reset: return .reset
            case .close: return .close
            case .garbage: return .raw(Self.garbage)
            case nil: break
            }
            var answer: VendorEndpoints.Answer
            if let example = VendorSimulator.catalog.first(where: {
                $0.vendor == vendor && $0.status == script.failStatus
            }) {
                answer = Self.answer(example, unixTime: unixTime)
            } else {
                answer = .json(script.failStatus, #"{"error":"simulated failure"}"#)
                answer.status = script.failStatus
            }
            if let retryAfter = script.failRetryAfter {
                answer.headers.removeAll { $0.name.lowercased() == "retry-after" }
                answer.headers.append(("Retry-After", retryAfter))
            }
            return .respond(Self.decorate(answer, vendor: vendor, rest: rest, script: script, unixTime: unixTime))
        }
        if let malformed = script.malformed {
            return .raw(malformed.bytes)
        }
        if let size = script.size {
            let headers: [(name: String, value: String)] = [
                ("Content-Type", script.contentType ?? "application/octet-stream")
            ]
            return .stream(status: script.status ?? 200, headers: headers, size: size, chunked: script.chunked)
        }

        var answer: VendorEndpoints.Answer
        if script.echo {
            answer = Self.echo(request)
            if let status = script.status {
                answer.status = status
            }
        } else if let name = script.error {
            guard let example = VendorSimulator.errorExample(vendor: vendor, name: name) else {
                return .respond(Self.simulatorError("no error example '\(name)' for vendor '\(vendor)'"))
            }
            answer = Self.answer(example, unixTime: unixTime)
            if let status = script.status {
                answer.status = status
            }
        } else if let status = script.status {
            let body = script.body ?? ""
            answer = VendorEndpoints.Answer(
                status: status,
                headers: body.isEmpty && script.contentType == nil
                    ? [] : [("Content-Type", script.contentType ?? "text/plain; charset=utf-8")],
                body: Array(body.utf8)
            )
        } else if script.rateLimitExhausted,
            let example = VendorSimulator.errorExample(vendor: vendor, name: "rate_limited")
        {
            answer = Self.answer(example, unixTime: unixTime)
        } else {
            answer = VendorEndpoints.answer(vendor: vendor, method: request.method, rest: rest)
        }
        return .respond(Self.decorate(answer, vendor: vendor, rest: rest, script: script, unixTime: unixTime))
    }

    /// A catalog example as an answer, templates resolved.
    static func answer(_ example: VendorErrorExample, unixTime: Int) -> VendorEndpoints.Answer {
        VendorEndpoints.Answer(
            status: example.status,
            headers: [("Content-Type", example.contentType)] + example.resolvedHeaders(unixTime: unixTime),
            body: Array(example.body.utf8)
        )
    }

    /// Adds what a vendor sends on every response (Dokai's X-RateLimit-*, X-Quota-* on parse responses) where
    /// the answer does not carry it already, and `ratelimit=exhausted`'s headers.
    private static func decorate(
        _ answer: VendorEndpoints.Answer,
        vendor: String,
        rest: String,
        script: SimulatorScript,
        unixTime: Int
    ) -> VendorEndpoints.Answer {
        var answer = answer
        func addMissing(_ headers: [(name: String, value: String)]) {
            for header in headers where !answer.headers.contains(where: { $0.name == header.name }) {
                answer.headers.append(
                    (header.name, VendorErrorExample.resolveTemplate(header.value, unixTime: unixTime))
                )
            }
        }
        if vendor == "dokai" {
            addMissing(VendorSimulator.dokaiRateLimitHeaders)
            if rest.hasPrefix("/v1/parse") {
                addMissing(VendorSimulator.dokaiQuotaHeaders)
            }
        }
        if script.rateLimitExhausted {
            let names: Set<String> = ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]
            answer.headers.removeAll { names.contains($0.name.lowercased()) }
            answer.headers += [
                ("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", String(unixTime + 30)),
            ]
        }
        return answer
    }

    /// `echo=true`: the request as JSON. The body is `body` (text) when it is valid UTF-8, else `body_base64`.
    static func echo(_ request: RecordedRequest) -> VendorEndpoints.Answer {
        let (path, query) = RecordedRequest.split(target: request.target)
        let headers = request.headers.map { "[\(JSONText.quote($0.name)),\(JSONText.quote($0.value))]" }
        var json = #"{"method":\#(JSONText.quote(request.method)),"target":\#(JSONText.quote(request.target)),"#
        json += #""path":\#(JSONText.quote(path)),"query":\#(query.map(JSONText.quote) ?? "null"),"#
        json += #""headers":[\#(headers.joined(separator: ","))],"#
        if let text = String(validating: request.body, as: UTF8.self) {
            json += #""body":\#(JSONText.quote(text)),"body_base64":null}"#
        } else {
            json += #""body":null,"body_base64":\#(JSONText.quote(JSONText.base64(request.body)))}"#
        }
        return .json(200, json)
    }

    /// The simulator's own complaint about a request it cannot script (400, `X-Sim-Error: true`).
    static func simulatorError(_ message: String) -> VendorEndpoints.Answer {
        VendorEndpoints.Answer(
            status: 400,
            headers: [("Content-Type", "text/plain; charset=utf-8"), ("X-Sim-Error", "true")],
            body: Array("vendor-sim: \(message)\n".utf8)
        )
    }
}
