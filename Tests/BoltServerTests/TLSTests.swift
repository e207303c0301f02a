import BoltServer
import Foundation
import Testing

/// TLS levels, with a certificate from scripts/make-test-certs.sh and Python's ssl module as the client.
let tlsToolsAvailable = ["/usr/bin/openssl", "/usr/bin/python3"].allSatisfy {
    FileManager.default.isExecutableFile(atPath: $0)
}

@Suite("Bolt TLS", .serialized, .enabled(if: tlsToolsAvailable))
struct TLSTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Sends the legacy 5.8 handshake over TLS or plain TCP; prints the reply in hex or "closed"/"tls-error".
    static let client = """
        import socket, ssl, sys
        port, use_tls = int(sys.argv[1]), sys.argv[2] == "tls"
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            if use_tls:
                ctx = ssl.create_default_context(cafile=sys.argv[3])
                s = ctx.wrap_socket(s, server_hostname="localhost")
            s.sendall(bytes.fromhex("6060b01700080805000000000000000000000000"))
            data = s.recv(4)
            print(data.hex() if data else "closed")
        except ssl.SSLError as e:
            print("tls-error")
        except (ConnectionResetError, BrokenPipeError):
            print("closed")
        """

    func makeCerts() throws -> (dir: URL, cert: String, key: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bolt-tls-\(UUID().uuidString)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Self.repoRoot.appendingPathComponent("scripts/make-test-certs.sh").path, dir.path]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        return (dir, dir.appendingPathComponent("public.crt").path, dir.appendingPathComponent("private.key").path)
    }

    func probe(port: Int, tls: Bool, ca: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", Self.client, "\(port)", tls ? "tls" : "plain", ca]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func config(_ level: BoltTLSLevel, _ cert: String, _ key: String) -> BoltServerConfiguration {
        BoltServerConfiguration(host: "127.0.0.1", port: 0, tlsLevel: level, certificatePath: cert,
            privateKeyPath: key)
    }

    @Test("REQUIRED accepts TLS and refuses plain; OPTIONAL accepts both; DISABLED refuses TLS")
    func levels() async throws {
        let (dir, cert, key) = try makeCerts()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (level, tlsAnswer, plainAnswer) in [
            (BoltTLSLevel.required, "00000805", "alert"), (.optional, "00000805", "00000805"),
            (.disabled, "tls-error", "00000805"),
        ] {
            let (tls, plain) = try await withServer(config(level, cert, key)) { _, port in
                (try probe(port: port, tls: true, ca: cert), try probe(port: port, tls: false, ca: cert))
            }
            #expect(tls == tlsAnswer, "TLS client, tls_level \(level)")
            // A plain client on a TLS-only port gets a TLS alert record (0x15) or a closed socket, never Bolt.
            let plainSeen = plain.hasPrefix("15") || plain == "closed" ? "alert" : plain
            #expect(plainSeen == plainAnswer, "plain client, tls_level \(level)")
        }
    }

    @Test("a missing certificate stops start-up with a clear error")
    func missingCertificate() async throws {
        let server = BoltServer(configuration: config(.required, "/nonexistent/public.crt", "/nonexistent/k"),
            service: FakeDatabaseService(), logger: .init(label: "t"))
        await #expect(throws: BoltServerError.self) { try await server.start() }
    }
}
