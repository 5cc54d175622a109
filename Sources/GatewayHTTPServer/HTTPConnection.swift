import Logging
import NIOCore
import NIOHTTP1

/// Serves the requests of one client connection, one after another: pipelined requests are answered in order
/// because the next head is only read once the previous response has ended.
struct HTTPConnection {
    let channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let configuration: HTTPServerConfiguration
    let responder: any HTTPResponder
    /// Nil when the connection is over the limit and only gets a refusal.
    let entry: ConnectionRegistry.Entry?
    let logger: Logger

    /// Why the request loop stops reading from the client.
    private enum Stop: Error {
        case refused(ServerRefusal, head: HTTPRequestHead?)
        case closeQuietly
    }

    func run(refuseImmediately: ServerRefusal? = nil) async {
        let remoteAddress = self.channel.channel.remoteAddress
        do {
            try await self.channel.executeThenClose { inbound, outbound in
                if let refusal = refuseImmediately {
                    try await self.refuse(refusal, head: nil, remoteAddress: remoteAddress, outbound: outbound)
                    return
                }
                var requests = inbound.makeAsyncIterator()
                while true {
                    do {
                        let keepGoing = try await self.serveOne(
                            requests: &requests, outbound: outbound, remoteAddress: remoteAddress)
                        if !keepGoing { return }
                    } catch let stop as Stop {
                        switch stop {
                        case .refused(let refusal, let head):
                            try await self.refuse(refusal, head: head, remoteAddress: remoteAddress, outbound: outbound)
                        case .closeQuietly:
                            break
                        }
                        return
                    }
                }
            }
        } catch {
            self.logger.trace("connection closed", metadata: ["error": "\(error)"])
        }
    }

    /// Reads and answers one request. Returns whether the connection stays open for another.
    private func serveOne(
        requests: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        remoteAddress: SocketAddress?
    ) async throws -> Bool {
        let head: HTTPRequestHead
        do {
            guard self.entry?.endRequest() ?? false else { return false }
            guard let part = try await requests.next() else { return false }
            guard self.entry?.beginRequest() ?? false else { return false }
            guard case .head(let decoded) = part else {
                throw Stop.refused(.malformedRequest("request body without a head"), head: nil)
            }
            head = decoded
        } catch let error as Stop {
            throw error
        } catch {
            throw Self.stop(for: error, head: nil)
        }
        let receivedAt = ContinuousClock.now

        let verdict = RequestHeadValidator.validate(head, maxHeadBytes: self.configuration.maxHeaderBytes)
        if let refusal = verdict.refusal { throw Stop.refused(refusal, head: head) }

        var keepAlive = head.isKeepAlive
        if head.headers.contains(name: "upgrade") {
            // NIO stops parsing after a message that asks for an upgrade: serve it, then close.
            keepAlive = false
        }
        if self.entry?.isDraining ?? true {
            keepAlive = false
        }
        let writer = ResponseWriter(
            outbound: outbound, isHeadRequest: head.method == .HEAD, closeAfterResponse: !keepAlive,
            connection: self.entry)

        if let length = head.headers.first(name: "content-length").flatMap({ Int($0) }),
            length > self.configuration.maxBodyBytes
        {
            throw Stop.refused(.bodyTooLarge, head: head)
        }
        if verdict.expectsContinue {
            try await writer.writeContinue()
        }

        let body = try await self.readBody(requests: &requests, head: head)
        let request = ServerRequest(
            head: head, target: verdict.originFormTarget, body: body, remoteAddress: remoteAddress,
            receivedAt: receivedAt)

        do {
            try await self.responder.respond(to: request, writer: writer)
        } catch {
            switch writer.state {
            case .nothingWritten:
                self.logger.error("responder failed before a response head", metadata: ["error": "\(error)"])
                throw Stop.refused(.internalError, head: head)
            case .headWritten, .ended:
                // A head is out: the only honest failure is closing, so the client sees the body is incomplete.
                self.logger.debug("response aborted", metadata: ["error": "\(error)"])
                throw Stop.closeQuietly
            }
        }
        if writer.state != .ended {
            throw Stop.closeQuietly
        }
        return !writer.closeAfterResponse && !(self.entry?.isDraining ?? true)
    }

    /// Collects the body, bounded by `max_body_bytes` as it arrives (chunked bodies too).
    private func readBody(
        requests: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator,
        head: HTTPRequestHead
    ) async throws -> ByteBuffer? {
        var body: ByteBuffer?
        while true {
            let part: HTTPServerRequestPart?
            do {
                part = try await requests.next()
            } catch {
                throw Self.stop(for: error, head: head)
            }
            switch part {
            case .none:
                throw Stop.closeQuietly
            case .head:
                throw Stop.refused(.malformedRequest("a new head before the body ended"), head: head)
            case .body(let chunk):
                var chunk = chunk
                guard RequestBody.append(&chunk, to: &body, limit: self.configuration.maxBodyBytes) else {
                    throw Stop.refused(.bodyTooLarge, head: head)
                }
            case .end:
                return body
            }
        }
    }

    private static func stop(for error: any Error, head: HTTPRequestHead?) -> Stop {
        switch error {
        case is RequestTimeoutError:
            return .refused(.requestTimeout, head: head)
        case let error as ChunkExtensionTooLongError:
            return .refused(.malformedRequest("chunk extension longer than \(error.limit) bytes"), head: head)
        case let error as RequestHeadTooLargeError:
            return .refused(error.requestLineTooLong ? .uriTooLong : .headerTooLarge, head: head)
        case let error as HTTPParserError:
            if error == .headerOverflow { return .refused(.headerTooLarge, head: head) }
            return .refused(.malformedRequest(Self.describe(error)), head: head)
        default:
            return .closeQuietly
        }
    }

    /// A short, client-safe description of a parser error.
    private static func describe(_ error: HTTPParserError) -> String {
        switch error {
        case .invalidHeaderToken: return "invalid character in a header field"
        case .invalidContentLength, .unexpectedContentLength: return "invalid Content-Length"
        case .invalidChunkSize: return "invalid chunk size"
        case .invalidMethod: return "invalid method"
        case .invalidURL: return "invalid request target"
        case .invalidVersion: return "invalid HTTP version"
        case .lfExpected, .invalidConstant: return "invalid line ending"
        default: return "malformed request"
        }
    }

    private func refuse(
        _ refusal: ServerRefusal, head: HTTPRequestHead?, remoteAddress: SocketAddress?,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var response = self.responder.response(for: refusal, head: head, remoteAddress: remoteAddress)
        response.headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
        response.headers.replaceOrAdd(name: "connection", value: "close")
        let responseHead = HTTPResponseHead(version: .http1_1, status: response.status, headers: response.headers)
        if head?.method == .CONNECT {
            // NIO's encoder drops the body of every response to CONNECT, yet only a 2xx answer to CONNECT has none
            // (RFC 9110 section 9.3.6): the refusal goes out as bytes, below the encoder, so the client gets the
            // envelope like any other. The connection closes after it.
            let bytes = RawResponse.serialize(responseHead, body: response.body)
            try await self.channel.channel.triggerUserOutboundEvent(RawResponse(bytes: bytes)).get()
            return
        }
        if head?.method == .HEAD || response.body.readableBytes == 0 {
            try await outbound.write(contentsOf: [.head(responseHead), .end(nil)])
        } else {
            try await outbound.write(contentsOf: [.head(responseHead), .body(.byteBuffer(response.body)), .end(nil)])
        }
    }
}
