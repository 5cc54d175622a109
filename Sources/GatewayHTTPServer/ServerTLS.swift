import NIOConcurrencyHelpers
import NIOCore
public import NIOSSL
import NIOTLS

/// The TLS context the listener terminates new connections with, replaceable while it runs.
///
/// A certificate rotated on disk must take effect without a restart (SIGHUP reloads the config): the reloader
/// builds a new `NIOSSLContext` from the files and swaps it in. Each new connection takes the context current
/// when it is accepted; connections already open keep theirs. A file that cannot be read leaves the old context
/// in force.
public final class ServerTLSContext: Sendable {
    private let box: NIOLockedValueBox<NIOSSLContext>

    /// Loads the certificate chain and key (PEM) now.
    /// - Throws: a `NIOSSLError` when a file is missing, unreadable, or the key does not match.
    public convenience init(certificatePath: String, privateKeyPath: String) throws {
        try self.init(context: Self.makeContext(certificatePath: certificatePath, privateKeyPath: privateKeyPath))
    }

    public init(context: NIOSSLContext) {
        self.box = NIOLockedValueBox(context)
    }

    /// The context for the next connection.
    public var current: NIOSSLContext { self.box.withLockedValue { $0 } }

    /// Re-reads the files; on success new connections use them.
    /// - Throws: when a file cannot be loaded; the previous context stays in force then.
    public func reload(certificatePath: String, privateKeyPath: String) throws {
        let context = try Self.makeContext(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        self.box.withLockedValue { $0 = context }
    }

    /// A server context from PEM files: the certificate file may hold the whole chain, leaf first. TLS 1.2 at
    /// least; the client is not asked for a certificate.
    public static func makeContext(certificatePath: String, privateKeyPath: String) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}

/// Closes a connection whose TLS handshake is not complete within its own timeout (`server.tls.handshake_timeout`).
///
/// Sits right after `NIOSSLServerHandler`. Without it a handshake is bounded only by the idle timer, which starts with
/// the connection and is never told about handshake bytes: a client that opens connections and never finishes a
/// ClientHello would hold each for `idle_timeout`. Once the handshake completes the handler removes itself.
final class TLSHandshakeTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: Duration) {
        self.timeout = TimeAmount(timeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.arm(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.arm(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent {
            self.timer?.cancel()
            self.timer = nil
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func arm(context: ChannelHandlerContext) {
        guard self.timer == nil else { return }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(in: self.timeout) {
            loopBound.value.close(promise: nil)
        }
    }
}
