import CCurl
import GatewayCore
import HTTPTypes
import NIOCore

/// A reusable curl easy handle and its error buffer; owned by the engine thread.
///
/// Handles go back to a free list after a transfer (`curl_easy_reset` keeps nothing of the request), so a new
/// transfer costs no `curl_easy_init`, and the multi handle's connection cache keeps connections alive across them.
struct EasyHandle {
    let raw: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    static func make() -> EasyHandle? {
        guard let raw = curl_easy_init() else { return nil }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        return EasyHandle(raw: raw, errorBuffer: errorBuffer)
    }

    func destroy() {
        curl_easy_cleanup(self.raw)
        self.errorBuffer.deallocate()
    }

    /// Clears every option for the next transfer.
    func reset() {
        curl_easy_reset(self.raw)
        self.errorBuffer[0] = 0
    }

    /// curl's detailed message of the last failure, if any.
    var errorMessage: String {
        self.errorBuffer[0] == 0 ? "" : String(cString: self.errorBuffer)
    }

    /// Sets every option of one try; returns the header list to keep alive until the transfer is removed.
    ///
    /// - Throws: ``UpstreamError`` with `.protocolError` when curl refuses an option (a malformed URL or header).
    func configure(
        for request: UpstreamRequest,
        context: UnsafeMutableRawPointer,
        reactor: UnsafeMutablePointer<ccurl_reactor>
    ) throws(UpstreamError) -> UnsafeMutablePointer<curl_slist>? {
        let handle = self.raw
        var failure: CURLcode = CURLE_OK
        func check(_ code: CURLcode) {
            if code != CURLE_OK && failure == CURLE_OK { failure = code }
        }
        func setLong(_ option: CURLoption, _ value: Int) { check(ccurl_easy_setopt_long(handle, option, value)) }
        func setString(_ option: CURLoption, _ value: String) {
            check(value.withCString { ccurl_easy_setopt_string(handle, option, $0) })
        }

        check(ccurl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(self.errorBuffer)))
        check(ccurl_easy_setopt_pointer(handle, CURLOPT_PRIVATE, context))
        check(ccurl_easy_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, curlHeaderCallback))
        check(ccurl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, context))
        check(ccurl_easy_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteCallback))
        check(ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context))
        // Upstream sockets are close-on-exec (a child process must not hold a connection open after curl closed it),
        // and the reactor tracks them from their opening to their closing (see `ccurl_reactor`).
        check(ccurl_easy_set_socket_hooks(handle, reactor))

        setString(CURLOPT_URL, request.url)
        setLong(CURLOPT_NOSIGNAL, 1)
        setLong(CURLOPT_FOLLOWLOCATION, 0)
        setString(CURLOPT_PROTOCOLS_STR, "http,https")
        setLong(CURLOPT_PATH_AS_IS, 1)
        Self.configureEgress(for: request, setLong: setLong, setString: setString)
        // Bodies pass as they are: no Accept-Encoding of our own, no decoding of the upstream's.
        setLong(CURLOPT_HTTP_CONTENT_DECODING, 0)
        setLong(CURLOPT_TCP_KEEPALIVE, 1)
        setLong(CURLOPT_CONNECTTIMEOUT_MS, max(1, Self.milliseconds(request.connectTimeout)))
        setLong(CURLOPT_SSL_VERIFYPEER, 1)
        setLong(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = request.tls.caFile { setString(CURLOPT_CAINFO, caFile) }
        if let certificate = request.tls.clientCertificate { setString(CURLOPT_SSLCERT, certificate) }
        if let key = request.tls.clientKey { setString(CURLOPT_SSLKEY, key) }

        switch request.method {
        case .head:
            setLong(CURLOPT_NOBODY, 1)
        case .get where request.body == nil:
            setLong(CURLOPT_HTTPGET, 1)
        default:
            setString(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }
        if let body = request.body, request.method != .head {
            // Binary-safe with the size set. POSTFIELDS sends the kept body's own bytes, not a copy: the transfer
            // holds `request` (and so the buffer, never written again) until curl is done with the handle.
            check(ccurl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.readableBytes)))
            if body.readableBytes == 0 {
                check(ccurl_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, Self.emptyBody))
            } else {
                check(
                    body.withUnsafeReadableBytes { bytes in
                        ccurl_easy_setopt_pointer(
                            handle,
                            CURLOPT_POSTFIELDS,
                            UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
                        )
                    }
                )
            }
        } else if request.method == .post || request.method == .put || request.method == .patch {
            // A method that carries a body, sent without one: Content-Length: 0, never a read from stdin.
            check(ccurl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, 0))
            check(ccurl_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, Self.emptyBody))
        }

        let headerList = HeaderList.make(request.headers)
        check(ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))

        if failure != CURLE_OK {
            HeaderList.free(headerList)
            throw UpstreamError(
                CurlErrorClassification.code(for: failure) == .overloaded ? .overloaded : .protocolError,
                detail: "curl refused an option: \(CurlErrorClassification.text(for: failure))"
            )
        }
        return headerList
    }

    /// The HTTP version and the way out (SPEC section 2, `http_version`, `proxy`, `no_proxy`).
    ///
    /// - `auto`: HTTP/2 when TLS ALPN offers it (`CURL_HTTP_VERSION_2TLS`: plain HTTP stays on 1.1); `"2"`: ALPN over
    ///   TLS, prior knowledge over plain HTTP; `"1.1"`: HTTP/1.1 only. Where HTTP/2 may be spoken, `PIPEWAIT` makes a
    ///   new transfer wait for a connection it can share rather than open another one (not over plain HTTP with
    ///   `auto`: that is HTTP/1.1, where waiting would serialize requests on one connection).
    /// - No `proxy`: none at all, whatever `http_proxy` & co. say in the environment (the config says where requests
    ///   go). With one: HTTP and HTTPS proxies always tunnel through `CONNECT` (`HTTPPROXYTUNNEL`), so the proxy
    ///   never reads or rewrites the request and a refusal is a failed `CONNECT` (see `CurlErrorClassification`),
    ///   never a response to pass on; the `CONNECT` response's own head is kept out of the upstream's.
    static func configureEgress(
        for request: UpstreamRequest, setLong: (CURLoption, Int) -> Void, setString: (CURLoption, String) -> Void
    ) {
        let isTLS = request.url.utf8.starts(with: "https:".utf8)
        switch request.httpVersion {
        case .http1_1:
            setLong(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        case .auto:
            setLong(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        case .http2:
            setLong(CURLOPT_HTTP_VERSION, Int(isTLS ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE))
        }
        // Only where HTTP/2 can be spoken: over HTTP/1.1 PIPEWAIT would queue a transfer behind a busy connection.
        if request.httpVersion == .http2 || (request.httpVersion == .auto && isTLS) { setLong(CURLOPT_PIPEWAIT, 1) }

        guard let proxy = request.proxy else {
            setString(CURLOPT_PROXY, "")
            return
        }
        setString(CURLOPT_PROXY, proxy.url)
        if !request.noProxy.isEmpty { setString(CURLOPT_NOPROXY, request.noProxy.joined(separator: ",")) }
        if proxy.scheme != .socks5h {
            setLong(CURLOPT_HTTPPROXYTUNNEL, 1)
            setLong(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
        }
        if proxy.scheme == .https, let caFile = request.tls.caFile {
            // One trust store for the upstream and the proxy in front of it.
            setString(CURLOPT_PROXY_CAINFO, caFile)
        }
    }

    /// A static empty buffer for zero-length bodies (curl would read stdin if POSTFIELDS were NULL).
    /// `nonisolated(unsafe)`: written once here, never written again; curl only reads zero bytes from it.
    nonisolated(unsafe) private static let emptyBody: UnsafeMutableRawPointer = {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
        pointer.storeBytes(of: 0, as: UInt8.self)
        return pointer
    }()

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

/// `CURLOPT_HEADERFUNCTION`: `userdata` is the transfer (retained while the handle is in the multi handle).
private let curlHeaderCallback: ccurl_data_callback = { buffer, size, count, userdata in
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
    return transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: buffer, count: size * count))
}

/// `CURLOPT_WRITEFUNCTION`: `userdata` is the transfer (retained while the handle is in the multi handle).
private let curlWriteCallback: ccurl_data_callback = { buffer, size, count, userdata in
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
    return transfer.receiveBody(UnsafeRawBufferPointer(start: buffer, count: size * count))
}
