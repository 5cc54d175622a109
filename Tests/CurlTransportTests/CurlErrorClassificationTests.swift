import CCurl
import GatewayCore
import Testing

@testable import CurlTransport

@Suite struct CurlErrorClassificationTests {
    /// SOCKS failures (`CURLE_PROXY`): the proxy could not reach the upstream, or it refused us.
    @Test func socksFailuresAreToldApart() {
        let table: [(CURLproxycode, UpstreamError.Code)] = [
            (CURLPX_REPLY_CONNECTION_REFUSED, .connectFailed),
            (CURLPX_REPLY_HOST_UNREACHABLE, .connectFailed),
            (CURLPX_REPLY_NETWORK_UNREACHABLE, .connectFailed),
            (CURLPX_REPLY_TTL_EXPIRED, .connectFailed),
            (CURLPX_RESOLVE_HOST, .connectFailed),
            (CURLPX_USER_REJECTED, .proxyRefused),
            (CURLPX_NO_AUTH, .proxyRefused),
            (CURLPX_REPLY_NOT_ALLOWED, .proxyRefused),
            (CURLPX_REQUEST_FAILED, .proxyRefused),
            (CURLPX_BAD_VERSION, .protocolError),
            (CURLPX_CLOSED, .protocolError),
        ]
        for (error, code) in table {
            #expect(CurlErrorClassification.code(forProxyError: error) == code, "\(error)")
        }
    }

    @Test func theTableHolds() {
        let table: [(CURLcode, UpstreamError.Code)] = [
            (CURLE_COULDNT_CONNECT, .connectFailed),
            (CURLE_COULDNT_RESOLVE_HOST, .dnsFailed),
            (CURLE_COULDNT_RESOLVE_PROXY, .dnsFailed),
            (CURLE_OPERATION_TIMEDOUT, .timedOut),
            (CURLE_SSL_CONNECT_ERROR, .tlsFailed),
            (CURLE_PEER_FAILED_VERIFICATION, .tlsFailed),
            (CURLE_SSL_CERTPROBLEM, .tlsFailed),
            (CURLE_SSL_CACERT_BADFILE, .tlsFailed),
            (CURLE_SSL_CIPHER, .tlsFailed),
            (CURLE_SSL_CLIENTCERT, .tlsFailed),
            (CURLE_RECV_ERROR, .connectionReset),
            (CURLE_SEND_ERROR, .connectionReset),
            (CURLE_PARTIAL_FILE, .connectionReset),
            (CURLE_GOT_NOTHING, .gotNothing),
            (CURLE_WEIRD_SERVER_REPLY, .protocolError),
            (CURLE_UNSUPPORTED_PROTOCOL, .protocolError),
            (CURLE_BAD_CONTENT_ENCODING, .protocolError),
            (CURLE_HTTP2, .protocolError),
            (CURLE_HTTP2_STREAM, .protocolError),
            (CURLE_ABORTED_BY_CALLBACK, .cancelled),
            (CURLE_WRITE_ERROR, .cancelled),
            (CURLE_OUT_OF_MEMORY, .overloaded),
        ]
        for (code, expected) in table {
            #expect(CurlErrorClassification.code(for: code) == expected, "CURLcode \(code.rawValue)")
        }
    }

    @Test func onlyConnectAndDNSFailuresProveTheRequestNeverLeft() {
        for raw in UInt32(1)...UInt32(99) {
            let code = CurlErrorClassification.code(for: CURLcode(rawValue: raw))
            let neverLeft =
                raw == CURLE_COULDNT_CONNECT.rawValue || raw == CURLE_COULDNT_RESOLVE_HOST.rawValue
                || raw == CURLE_COULDNT_RESOLVE_PROXY.rawValue
            #expect(UpstreamError(code).requestMayHaveBeenSent == !neverLeft, "CURLcode \(raw)")
        }
    }

    @Test func theTextIsCurls() {
        #expect(!CurlErrorClassification.text(for: CURLE_COULDNT_CONNECT).isEmpty)
    }
}
