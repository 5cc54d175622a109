import CCurl
import GatewayCore

/// Maps a transfer's `CURLcode` onto the bounded ``UpstreamError/Code`` set the proxy decides on.
///
/// | CURLcode | code | why |
/// | --- | --- | --- |
/// | `COULDNT_CONNECT` | `connectFailed` | refused or unreachable: the request never left |
/// | `COULDNT_RESOLVE_HOST`, `COULDNT_RESOLVE_PROXY` | `dnsFailed` | the request never left |
/// | `OPERATION_TIMEDOUT` | `timedOut` | connect timeouts included (a timed-out connect is still a timeout) |
/// | `SSL_*`, `PEER_FAILED_VERIFICATION`, `USE_SSL_FAILED` | `tlsFailed` | handshake or verification |
/// | `RECV_ERROR`, `SEND_ERROR`, `PARTIAL_FILE` | `connectionReset` | the connection broke mid-exchange |
/// | `GOT_NOTHING` | `gotNothing` | closed without a byte of response |
/// | `ABORTED_BY_CALLBACK`, `WRITE_ERROR` | `cancelled` | only our own callbacks abort a transfer |
/// | `OUT_OF_MEMORY`, `NO_CONNECTION_AVAILABLE` | `overloaded` | the transport could not take it on |
/// | any, with a `CONNECT` answered 3xx or 4xx | `proxyRefused` | the egress proxy said no (see `error(for:…)`) |
/// | any, with a `CONNECT` answered 5xx | `connectFailed` | the proxy could not reach the upstream |
/// | `PROXY` (SOCKS) | `connectFailed` or `proxyRefused` | by `CURLINFO_PROXY_ERROR` (``code(forProxyError:)``) |
/// | any other (`WEIRD_SERVER_REPLY`, `UNSUPPORTED_PROTOCOL`, `BAD_CONTENT_ENCODING`, HTTP/2…) | `protocolError` | |
///
/// The engine records its own reasons (head invalid, head or idle timeout, cancel) before aborting a transfer and
/// uses them instead of the `CURLcode` those aborts produce; this function only sees curl's own failures.
enum CurlErrorClassification {
    static func code(for result: CURLcode) -> UpstreamError.Code {
        switch result {
        case CURLE_COULDNT_CONNECT:
            return .connectFailed
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .dnsFailed
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            return .tlsFailed
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            return .connectionReset
        case CURLE_GOT_NOTHING:
            return .gotNothing
        case CURLE_ABORTED_BY_CALLBACK, CURLE_WRITE_ERROR:
            return .cancelled
        case CURLE_OUT_OF_MEMORY, CURLE_NO_CONNECTION_AVAILABLE:
            return .overloaded
        default:
            // CURLcode is an open C enum: every other code is curl refusing what the upstream said.
            return .protocolError
        }
    }

    /// The error of a transfer curl ended with `result`: ``code(for:)``, except when an egress proxy answered the
    /// `CONNECT` with something other than 2xx (`CURLINFO_HTTP_CONNECTCODE`; curl 7.88 then reports `RECV_ERROR`,
    /// which would read as a reset): 3xx and 4xx (407 for credentials, 403 for a destination it does not allow) are
    /// `proxyRefused`; 5xx means the proxy could not reach the upstream, `connectFailed` like a direct refusal
    /// (the request never left).
    ///
    /// A SOCKS proxy's failures all arrive as `CURLE_PROXY`; `CURLINFO_PROXY_ERROR` tells them apart: the proxy could
    /// not reach the upstream (refused, unreachable, TTL) is `connectFailed`; the proxy refused us (credentials, a
    /// rule) is `proxyRefused`; anything else stays `protocolError`.
    static func error(for result: CURLcode, handle: UnsafeMutableRawPointer, detail: String) -> UpstreamError {
        var connectCode = 0
        _ = ccurl_easy_getinfo_long(handle, CURLINFO_HTTP_CONNECTCODE, &connectCode)
        if connectCode >= 300 {
            let what = "the proxy answered CONNECT with \(connectCode)"
            return UpstreamError(connectCode >= 500 ? .connectFailed : .proxyRefused, detail: what)
        }
        let text = detail.isEmpty ? self.text(for: result) : detail
        if result == CURLE_PROXY {
            var proxyError = 0
            _ = ccurl_easy_getinfo_long(handle, CURLINFO_PROXY_ERROR, &proxyError)
            return UpstreamError(self.code(forProxyError: CURLproxycode(UInt32(proxyError))), detail: text)
        }
        return UpstreamError(self.code(for: result), detail: text)
    }

    /// A SOCKS failure (`CURLINFO_PROXY_ERROR`) as one of ours.
    static func code(forProxyError error: CURLproxycode) -> UpstreamError.Code {
        switch error {
        case CURLPX_REPLY_CONNECTION_REFUSED, CURLPX_REPLY_HOST_UNREACHABLE, CURLPX_REPLY_NETWORK_UNREACHABLE,
            CURLPX_REPLY_TTL_EXPIRED, CURLPX_RESOLVE_HOST:
            return .connectFailed
        case CURLPX_USER_REJECTED, CURLPX_NO_AUTH, CURLPX_REPLY_NOT_ALLOWED, CURLPX_REQUEST_FAILED,
            CURLPX_RECV_AUTH, CURLPX_SEND_AUTH:
            return .proxyRefused
        default:
            return .protocolError
        }
    }

    /// curl's fixed English text for the code, for logs.
    static func text(for result: CURLcode) -> String {
        String(cString: curl_easy_strerror(result))
    }
}
