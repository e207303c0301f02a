import Foundation
import NIOCore
import Testing

@testable import TrellisServer

@Suite("Start-up failures are one line naming the path or address, the setting and the reason (operations.md)")
struct StartupErrorsTests {
    @Test("a folder that cannot be created names the path, the setting and the system's reason")
    func folder() throws {
        let dir = try TemporaryDirectory()
        let file = dir.path + "/data"
        try #require(FileManager.default.createFile(atPath: file, contents: nil))
        let error = #expect(throws: LifecycleError.self) {
            try StartupErrors.createDirectory(file + "/databases", setting: "dbms.directories.data")
        }
        #expect(error?.message == "cannot create the folder \(file)/databases (dbms.directories.data): Not a directory")
    }

    @Test("a port in use names the connector, the address and the setting to change")
    func portInUse() {
        let nio = IOError(errnoCode: EADDRINUSE, reason: "bind(descriptor:ptr:bytes:)")
        let message = StartupErrors.cannotListen(
            "HTTP", host: "127.0.0.1", port: 7474, setting: "dbms.connector.http.listen_address", nio
        ).message
        #expect(message.hasPrefix(
            "cannot listen for HTTP on 127.0.0.1:7474 (dbms.connector.http.listen_address): Address already in use; "))
        #expect(message.hasSuffix("set dbms.connector.http.listen_address to a free port"))
        // The Bolt server wraps NIO's error in its own message; the errno it quotes is still found.
        struct Wrapped: Error, CustomStringConvertible {
            var description: String { "cannot listen: bind(descriptor:ptr:bytes:): Address already in use) (errno: 98)" }
        }
        #expect(StartupErrors.errnoCode(Wrapped()) == 98)
        #expect(StartupErrors.reason(LifecycleError("plain")) == "plain")
    }

    @Test("trellis start quotes the reason the daemon wrote after the start began, not an older one")
    func daemonReason() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/trellis-stderr.log"
        let old = "trellis: failed to start: an old reason\n"
        try (old + "noise\ntrellis: failed to start: cannot listen for Bolt on 127.0.0.1:1 (x): Permission denied\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(Launcher.startFailureReason(stderrPath: path, from: old.utf8.count)
            == "cannot listen for Bolt on 127.0.0.1:1 (x): Permission denied")
        #expect(Launcher.startFailureReason(stderrPath: path, from: 10_000) == nil)
        #expect(Launcher.startFailureReason(stderrPath: dir.path + "/missing", from: 0) == nil)
    }
}

@Suite("Connector start failures")
struct ConnectorFailureTests {
    @Test("only socket errors are reworded as 'cannot listen'; a bad certificate keeps its own message")
    func onlySocketErrors() {
        let certificate = LifecycleError("cannot load the Bolt TLS certificate /c/public.crt: failedToLoadPrivateKey")
        let kept = StartupErrors.connectorFailure("Bolt", host: "h", port: 1, setting: "s", certificate)
        #expect("\(kept)" == certificate.message)
        let bind = StartupErrors.connectorFailure(
            "Bolt", host: "h", port: 1, setting: "s", IOError(errnoCode: EACCES, reason: "bind"))
        #expect("\(bind)".hasPrefix("cannot listen for Bolt on h:1 (s): Permission denied; ports below 1024"))
    }
}

@Suite("trellis start output")
struct StartOutputTests {
    @Test("the address printed after a start is one that is enabled")
    func availability() throws {
        #expect(ServerMain.availability(try Config(home: "/h")) == " It is available at http://127.0.0.1:7474/")
        let boltOnly = try Config(home: "/h", overrides: ["dbms.connector.http.enabled": "false"])
        #expect(ServerMain.availability(boltOnly) == " It is available at bolt://127.0.0.1:7687")
        let neither = try Config(
            home: "/h", overrides: ["dbms.connector.http.enabled": "false", "dbms.connector.bolt.enabled": "false"])
        #expect(ServerMain.availability(neither).contains("Bolt and HTTP are disabled"))
    }
}
