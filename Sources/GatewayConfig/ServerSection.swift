import GatewayCore

/// Reads `server:` and `errors:` (SPEC section 2); absent keys keep the defaults of `ServerConfiguration`.
enum ServerSection {
    static let keys = [
        "listen", "admin_listen", "max_header_bytes", "max_header_count", "max_body_bytes", "idle_timeout",
        "request_header_timeout", "request_body_timeout", "min_request_body_rate", "drain_timeout", "trusted_proxies",
        "access_log", "max_connections", "tls", "tracing",
    ]
    static let tlsKeys = ["certificate", "private_key", "handshake_timeout"]
    static let tracingKeys = ["otlp_endpoint", "sample_ratio"]
    static let errorsKeys = ["type_base", "expose_upstream_messages"]

    static func read(_ node: ConfigNode) -> ServerConfiguration {
        var server = ServerConfiguration()
        guard let fields = node.mapping(allowedKeys: self.keys) else { return server }
        if let value = fields["listen"]?.listenAddress() { server.listen = value }
        if let value = fields["admin_listen"]?.listenAddress() { server.adminListen = value }
        if let value = fields["max_header_bytes"]?.size() { server.maxHeaderBytes = value }
        if let value = fields["max_header_count"]?.integer(atLeast: 1) { server.maxHeaderCount = value }
        if let value = fields["max_body_bytes"]?.size(allowingZero: true) { server.maxBodyBytes = value }
        if let value = fields["idle_timeout"]?.duration() { server.idleTimeout = value }
        if let value = fields["request_header_timeout"]?.duration() { server.requestHeaderTimeout = value }
        if let value = fields["request_body_timeout"]?.duration() { server.requestBodyTimeout = value }
        if let value = fields["min_request_body_rate"]?.value(
            expecting: "a data rate like 1KiB/s, 512/s or 10MiB/1m", { ConfigUnits.parseDataRate($0) })
        {
            server.minRequestBodyBytesPerSecond = value
        }
        if let value = fields["drain_timeout"]?.duration(allowingZero: true) { server.drainTimeout = value }
        if let items = fields["trusted_proxies"]?.sequence() {
            server.trustedProxies = items.compactMap { item in
                item.value(expecting: "a CIDR block like 10.0.0.0/8 or ::1/128") { CIDRBlock($0) }
            }
        }
        if let value = fields["access_log"]?.bool() { server.accessLog = value }
        if let value = fields["max_connections"]?.integer(atLeast: 1) { server.maxConnections = value }
        if let tlsNode = fields["tls"], !tlsNode.isNull,
            let tls = tlsNode.mapping(allowedKeys: self.tlsKeys)
        {
            let certificate = tls.required("certificate")?.string()
            let privateKey = tls.required("private_key")?.string()
            let handshakeTimeout = tls["handshake_timeout"]?.duration()
            if let certificate, let privateKey {
                server.tls = ServerTLSConfiguration(
                    certificate: certificate, privateKey: privateKey, handshakeTimeout: handshakeTimeout ?? .seconds(10)
                )
            }
        }
        if let node = fields["tracing"], !node.isNull, let tracing = node.mapping(allowedKeys: self.tracingKeys) {
            var configuration = TracingConfiguration()
            configuration.otlpEndpoint = tracing["otlp_endpoint"]?.value(
                expecting: "an OTLP/HTTP endpoint like http://127.0.0.1:4318"
            ) { text in UpstreamURL(text).map { _ in text } }
            if let value = tracing["sample_ratio"]?.double(in: 0...1) { configuration.sampleRatio = value }
            server.tracing = configuration
        }
        return server
    }

    static func readErrors(_ node: ConfigNode) -> ErrorsConfiguration {
        var errors = ErrorsConfiguration()
        guard let fields = node.mapping(allowedKeys: self.errorsKeys) else { return errors }
        if let value = fields["type_base"]?.string() { errors.typeBase = value }
        if let value = fields["expose_upstream_messages"]?.choice(ErrorsConfiguration.ExposeUpstreamMessages.self) {
            errors.exposeUpstreamMessages = value
        }
        return errors
    }
}

extension ConfigNode {
    /// `host:port`, with an IPv6 host in brackets (`[::1]:8080`); port 0 asks the system for a free port.
    func listenAddress() -> ListenAddress? {
        self.value(expecting: "host:port like 0.0.0.0:8080 or [::1]:8080") { ListenAddressSyntax.parse($0) }
    }
}

/// The `host:port` syntax of `server.listen` and `server.admin_listen`.
enum ListenAddressSyntax {
    static func parse(_ text: String) -> ListenAddress? {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":"), IPAddressParser.parse(String(host))?.count == 16 else { return nil }
            port = after.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            guard self.isHostName(host) else { return nil }
        }
        guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = Int(port), (0...65535).contains(number)
        else { return nil }
        return ListenAddress(host: String(host), port: number)
    }

    /// An IPv4 address or a DNS name (letters, digits, `-`, `.`).
    static func isHostName(_ host: Substring) -> Bool {
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") })
        else { return false }
        if host.allSatisfy({ $0.isNumber || $0 == "." }) { return IPAddressParser.parse(String(host)) != nil }
        return !host.hasPrefix("-") && !host.hasPrefix(".")
    }
}
