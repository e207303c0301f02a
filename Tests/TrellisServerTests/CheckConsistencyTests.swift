import Foundation
import GraphKernel
import Testing

@testable import TrellisServer

@Suite("trellis admin check-consistency (operations.md)")
struct CheckConsistencyTests {
    /// A home with a small store written through the kernel, closed cleanly.
    func home() throws -> (TemporaryDirectory, Config) {
        let dir = try TemporaryDirectory()
        let config = try Config(home: dir.path, overrides: ["dbms.memory.pagecache.size": "8m"])
        let db = try GraphDatabase(directory: config.databaseDirectory, configuration: KernelConfiguration(config: config))
        try db.write { (tx) throws in
            let a = try tx.createNode(labels: [])
            let b = try tx.createNode(labels: [])
            _ = try tx.createRelationship(from: a, to: b, type: try tx.getOrCreateRelationshipTypeToken("KNOWS"))
        }
        try db.close()
        return (dir, config)
    }

    @Test("a clean store passes; a damaged node record is reported, not crashed on")
    func cleanThenDamaged() throws {
        let (dir, config) = try home()
        _ = dir
        guard case .consistent(let report) = ServerMain.checkConsistency(config: config, database: nil) else {
            Issue.record("expected a consistent store")
            return
        }
        #expect(report.contains("Consistency check passed"))
        let nodes = config.databaseDirectory + "/neostore.nodestore.db"
        let handle = try #require(FileHandle(forWritingAtPath: nodes))
        try handle.write(contentsOf: [UInt8](repeating: 0xFF, count: 15))
        try handle.close()
        guard case .inconsistent(let damaged) = ServerMain.checkConsistency(config: config, database: nil) else {
            Issue.record("expected inconsistencies")
            return
        }
        #expect(damaged.contains("Consistency check found") && damaged.contains("[0]:"))
    }

    @Test("it refuses while the server holds the pid file, and creates nothing where there is no store")
    func refusals() throws {
        let (dir, config) = try home()
        _ = dir
        let pid = try PidFile(path: config.pidFile)
        guard case .failed(let running) = ServerMain.checkConsistency(config: config, database: nil) else {
            Issue.record("expected a refusal while running")
            return
        }
        #expect(running.hasPrefix("the server is running (pid \(getpid())); stop it first"))
        pid.release()
        guard case .failed(let missing) = ServerMain.checkConsistency(config: config, database: "other.db") else {
            Issue.record("expected no store")
            return
        }
        #expect(missing.hasPrefix("no store in \(config.dataDirectory)/databases/other.db"))
        #expect(!FileManager.default.fileExists(atPath: config.dataDirectory + "/databases/other.db"))
    }
}

@Suite("trellis admin set-initial-password messages")
struct SetInitialPasswordCommandTests {
    @Test("refusals read as sentences for a terminal, without a Bolt status code")
    func messages() throws {
        let dir = try TemporaryDirectory()
        let config = try Config(home: dir.path)
        let empty = #expect(throws: LifecycleError.self) { try ServerMain.setInitialPassword("", config: config) }
        #expect(empty?.message == "a password cannot be empty")
        try ServerMain.setInitialPassword("first", config: config)
        let again = #expect(throws: LifecycleError.self) { try ServerMain.setInitialPassword("second", config: config) }
        #expect(again?.message.contains("users already exist") == true)
        #expect(again?.message.contains("Neo.") == false)
    }
}
