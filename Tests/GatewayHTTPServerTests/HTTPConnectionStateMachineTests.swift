import NIOCore
import NIOHTTP1
import Testing

@testable import GatewayHTTPServer

/// The connection's (state, event) → action table, without a socket.
@Suite("Connection request state machine")
struct HTTPConnectionStateMachineTests {
    typealias Machine = HTTPConnectionStateMachine
    let now = ContinuousClock.now

    func machine(maxBody: Int = 100) -> Machine {
        Machine(maxHeaderBytes: 16 * 1024, maxBodyBytes: maxBody)
    }

    func head(_ method: HTTPMethod = .GET, _ uri: String = "/x", _ headers: [(String, String)] = [("Host", "h")])
        -> HTTPRequestHead
    {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    mutating func send(_ part: HTTPServerRequestPart, to machine: inout Machine, draining: Bool = false)
        -> Machine.Action
    {
        machine.receive(part, remoteAddress: nil, peerIP: nil, now: self.now, draining: draining)
    }

    func refusal(_ action: Machine.Action) -> ServerRefusal? {
        if case .refuse(let refusal, _) = action { return refusal }
        return nil
    }

    @Test mutating func aHeadAndItsEndMakeARequestThenTheConnectionWaitsForTheNext() {
        var machine = self.machine()
        #expect(machine.isIdle)
        guard
            case .none = self.send(
                .head(self.head(.POST, "/p", [("Host", "h"), ("Content-Length", "3")])), to: &machine)
        else {
            Issue.record("expected none")
            return
        }
        guard case .none = self.send(.body(ByteBuffer(string: "abc")), to: &machine) else {
            Issue.record("expected none")
            return
        }
        guard case .respond(let request, let keepAlive) = self.send(.end(nil), to: &machine) else {
            Issue.record("expected respond")
            return
        }
        #expect(keepAlive)
        #expect(request.target == "/p")
        #expect(request.body.map { String(buffer: $0) } == "abc")
        #expect(request.receivedAt == self.now)
        #expect(machine.isResponding)
        #expect(machine.responseFinished(ended: true, keepAlive: true, draining: false) == .readNext)
        #expect(machine.isIdle)
    }

    @Test mutating func aResponseThatDidNotEndOrAsksToCloseClosesTheConnection() {
        for (ended, keepAlive, draining) in [(false, true, false), (true, false, false), (true, true, true)] {
            var machine = self.machine()
            _ = self.send(.head(self.head()), to: &machine)
            _ = self.send(.end(nil), to: &machine)
            #expect(machine.responseFinished(ended: ended, keepAlive: keepAlive, draining: draining) == .close)
            #expect(machine.isClosed)
        }
    }

    @Test mutating func connectionCloseUpgradeAndDrainingMakeTheResponseClose() {
        let heads = [
            self.head(.GET, "/", [("Host", "h"), ("Connection", "close")]),
            self.head(.GET, "/", [("Host", "h"), ("Upgrade", "websocket"), ("Connection", "upgrade")]),
        ]
        for head in heads {
            var machine = self.machine()
            _ = self.send(.head(head), to: &machine)
            guard case .respond(_, let keepAlive) = self.send(.end(nil), to: &machine) else {
                Issue.record("expected respond")
                continue
            }
            #expect(!keepAlive)
        }
        var draining = self.machine()
        _ = self.send(.head(self.head()), to: &draining, draining: true)
        guard case .respond(_, let keepAlive) = self.send(.end(nil), to: &draining) else {
            Issue.record("expected respond")
            return
        }
        #expect(!keepAlive)
    }

    @Test mutating func bodiesOverTheLimitAreRefusedByLengthOrAsTheyArrive() {
        var byLength = self.machine(maxBody: 10)
        let action = self.send(.head(self.head(.POST, "/", [("Host", "h"), ("Content-Length", "11")])), to: &byLength)
        #expect(self.refusal(action) == .bodyTooLarge)
        #expect(byLength.isClosed)

        var asTheyArrive = self.machine(maxBody: 10)
        _ = self.send(
            .head(self.head(.POST, "/", [("Host", "h"), ("Transfer-Encoding", "chunked")])), to: &asTheyArrive)
        #expect(self.refusal(self.send(.body(ByteBuffer(string: "123456")), to: &asTheyArrive)) == nil)
        #expect(self.refusal(self.send(.body(ByteBuffer(string: "123456")), to: &asTheyArrive)) == .bodyTooLarge)
    }

    @Test mutating func expectContinueAsksForTheInterimResponse() {
        var machine = self.machine()
        let head = self.head(.POST, "/", [("Host", "h"), ("Content-Length", "1"), ("Expect", "100-continue")])
        guard case .writeContinue = self.send(.head(head), to: &machine) else {
            Issue.record("expected writeContinue")
            return
        }
    }

    @Test mutating func partsOutOfOrderAndInvalidHeadsAreRefused() {
        var bodyFirst = self.machine()
        #expect(
            self.refusal(self.send(.body(ByteBuffer(string: "x")), to: &bodyFirst))
                == .malformedRequest("request body without a head"))
        var twoHeads = self.machine()
        _ = self.send(.head(self.head(.POST, "/", [("Host", "h"), ("Content-Length", "5")])), to: &twoHeads)
        #expect(
            self.refusal(self.send(.head(self.head()), to: &twoHeads))
                == .malformedRequest("a new head before the body ended"))
        var noHost = self.machine()
        #expect(
            self.refusal(self.send(.head(self.head(.GET, "/", [])), to: &noHost))
                == .malformedRequest("missing Host header"))
        // Once refused, the connection takes nothing more.
        guard case .none = self.send(.head(self.head()), to: &noHost) else {
            Issue.record("expected none after a refusal")
            return
        }
    }

    @Test func errorsFromThePipelineBecomeTheirRefusals() {
        let cases: [(any Error, ServerRefusal?)] = [
            (RequestTimeoutError(), .requestTimeout),
            (RequestHeadTooLargeError(requestLineTooLong: true), .uriTooLong),
            (RequestHeadTooLargeError(requestLineTooLong: false), .headerTooLarge),
            (ChunkExtensionTooLongError(limit: 7), .malformedRequest("chunk extension longer than 7 bytes")),
            (HTTPParserError.headerOverflow, .headerTooLarge),
            (HTTPParserError.invalidMethod, .malformedRequest("invalid method")),
            (ChannelError.ioOnClosedChannel, nil),
        ]
        for (error, expected) in cases {
            var machine = self.machine()
            let action = machine.receive(error: error)
            if let expected {
                #expect(self.refusal(action) == expected, "\(error)")
            } else {
                guard case .closeQuietly = action else {
                    Issue.record("expected closeQuietly for \(error)")
                    continue
                }
            }
            #expect(machine.isClosed)
        }
    }

    @Test mutating func aResponderThatFailsBeforeItsHeadGets500WithTheRequestsHead() {
        var machine = self.machine()
        _ = self.send(.head(self.head(.GET, "/failing")), to: &machine)
        _ = self.send(.end(nil), to: &machine)
        guard case .refuse(.internalError, let head) = machine.responderFailedBeforeHead() else {
            Issue.record("expected refuse(internalError)")
            return
        }
        #expect(head?.uri == "/failing")
        #expect(machine.isClosed)
    }
}
