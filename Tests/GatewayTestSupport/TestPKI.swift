import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A private CA with a server and a client certificate, made with `openssl` in a temporary directory at test time
/// (no key material is checked in); `remove()` deletes them.
public final class TestPKI: Sendable {
    public let directory: String
    public var caCertificate: String { self.directory + "/ca.crt" }
    public var caKey: String { self.directory + "/ca.key" }
    /// Valid for `localhost` and `127.0.0.1`.
    public var serverCertificate: String { self.directory + "/server.crt" }
    public var serverKey: String { self.directory + "/server.key" }
    public var clientCertificate: String { self.directory + "/client.crt" }
    public var clientKey: String { self.directory + "/client.key" }

    private init(directory: String) {
        self.directory = directory
    }

    /// Creates the CA, a server certificate with common name `server-1`, and a client certificate.
    public static func make() throws -> TestPKI {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pki = TestPKI(directory: directory)
        try pki.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=Gateway Test CA", "-keyout", pki.caKey, "-out", pki.caCertificate,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try pki.issueServerCertificate(commonName: "server-1")
        try pki.issue(
            name: "client", commonName: "gateway-client", extensions: "extendedKeyUsage=clientAuth")
        return pki
    }

    /// Deletes the directory with every key and certificate in it. The test that made the PKI calls this when it
    /// ends (`defer { pki.remove() }`): private keys must not stay behind in the temporary directory.
    public func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// (Re)issues the server certificate and key under a new common name.
    public func issueServerCertificate(commonName: String) throws {
        try self.issue(
            name: "server", commonName: commonName,
            extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")
    }

    private func issue(name: String, commonName: String, extensions: String) throws {
        let key = "\(self.directory)/\(name).key"
        let request = "\(self.directory)/\(name).csr"
        let extensionsFile = "\(self.directory)/\(name).ext"
        try extensions.write(toFile: extensionsFile, atomically: true, encoding: .utf8)
        try self.openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(commonName)",
            "-keyout", key + ".new", "-out", request,
        ])
        try self.openssl([
            "x509", "-req", "-in", request, "-CA", self.caCertificate, "-CAkey", self.caKey, "-CAcreateserial",
            "-days", "2", "-extfile", extensionsFile, "-out", "\(self.directory)/\(name).crt.new",
        ])
        // Replace both files only once both exist, so a reader never sees a key without its certificate.
        guard rename(key + ".new", key) == 0,
            rename("\(self.directory)/\(name).crt.new", "\(self.directory)/\(name).crt") == 0
        else {
            throw OpenSSLError(message: "cannot move the new \(name) files into place")
        }
    }

    private func openssl(_ arguments: [String]) throws {
        let errorPath = FileManager.default.temporaryDirectory.path + "/openssl-\(UUID().uuidString).err"
        defer { try? FileManager.default.removeItem(atPath: errorPath) }
        let process = try SpawnedProcess("/usr/bin/openssl", arguments, errorPath: errorPath)
        guard process.waitForExit() == .exited(0) else {
            throw OpenSSLError(message: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
        }
    }

    /// `openssl` failed.
    public struct OpenSSLError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { "openssl: \(self.message)" }
    }
}
