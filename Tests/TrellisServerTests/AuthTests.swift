import Foundation
import GraphValues
import Logging
import Synchronization
import Testing

@testable import TrellisServer

@Suite("PBKDF2 and stored credentials")
struct CredentialTests {
    @Test("PBKDF2-HMAC-SHA256 matches the RFC 7914 §11 vectors")
    func vectors() {
        #expect(PBKDF2.sha256(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, keyLength: 64)
            .hexString
            == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
        #expect(PBKDF2.sha256(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 4096).hexString
            == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
    }

    @Test("a credential matches only its password and survives serialization")
    func roundTrip() throws {
        let c = Credential.create(password: "s3cret", iterations: 10)
        #expect(c.matches("s3cret"))
        #expect(!c.matches("s3cret "))
        let back = try #require(Credential(serialized: c.serialized))
        #expect(back == c)
        #expect(back.matches("s3cret"))
        #expect(Credential(serialized: "SHA-256,abc,def") == nil)
    }
}

/// A manually advanced clock for lock-out tests.
final class TestClock: Sendable {
    let instant = Mutex(ContinuousClock.now)
    func advance(_ d: Duration) { instant.withLock { $0 += d } }
    var now: ContinuousClock.Instant { instant.withLock { $0 } }
}

@Suite("Users, roles and lock-out (neo4j-ops.md §6)")
struct AuthManagerTests {
    func manager(_ dir: TemporaryDirectory, clock: TestClock = TestClock(), enabled: Bool = true) throws
        -> AuthManager
    {
        try AuthManager(
            enabled: enabled, directory: dir.path + "/dbms", maxFailedAttempts: 3, lockTime: .seconds(5),
            iterations: 10, logger: Logger(label: "test"), now: { clock.now })
    }

    @Test("first start creates neo4j/neo4j with a required change; files are mode 0600")
    func initialUser() throws {
        let dir = try TemporaryDirectory()
        let auth = try manager(dir)
        let user = try auth.authenticate(scheme: "basic", principal: "neo4j", credentials: "neo4j")
        #expect(user.passwordChangeRequired)
        #expect(user.roles == ["admin"])
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.path + "/dbms/auth")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let text = try String(contentsOfFile: dir.path + "/dbms/auth", encoding: .utf8)
        #expect(text.hasPrefix("neo4j:PBKDF2-SHA256,10,"))
        #expect(text.hasSuffix(":password_change_required\n"))
        #expect(!text.contains(":neo4j:"), "the password is never stored in clear")
    }

    @Test("changing the password clears the flag and is kept across restarts")
    func changePassword() throws {
        let dir = try TemporaryDirectory()
        try manager(dir).changePassword(of: "neo4j", to: "better")
        let again = try manager(dir)
        let user = try again.authenticate(scheme: "basic", principal: "neo4j", credentials: "better")
        #expect(!user.passwordChangeRequired)
        #expect(throws: DatabaseError.self) { try again.authenticate(scheme: "basic", principal: "neo4j", credentials: "neo4j") }
        #expect(throws: DatabaseError.self) { try again.changePassword(of: "neo4j", to: "better") }
    }

    @Test("wrong passwords lock the user for auth_lock_time, even against the right password")
    func lockOut() throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock()
        let auth = try manager(dir, clock: clock)
        for _ in 0..<3 {
            let e = #expect(throws: DatabaseError.self) {
                try auth.authenticate(scheme: "basic", principal: "neo4j", credentials: "wrong")
            }
            #expect(e?.code == .unauthorized)
        }
        let locked = #expect(throws: DatabaseError.self) {
            try auth.authenticate(scheme: "basic", principal: "neo4j", credentials: "neo4j")
        }
        #expect(locked?.code == .authenticationRateLimit)
        clock.advance(.seconds(6))
        #expect(throws: Never.self) { try auth.authenticate(scheme: "basic", principal: "neo4j", credentials: "neo4j") }
    }

    @Test("a cached verification is used only for the same password and is dropped when the password changes")
    func cache() throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock()
        let auth = try manager(dir, clock: clock)
        try auth.changePassword(of: "neo4j", to: "one")
        _ = try auth.authenticate(scheme: "basic", principal: "neo4j", credentials: "one")
        #expect(auth.state.withLock { $0.verified["neo4j"] } != nil)
        #expect(throws: DatabaseError.self) { try auth.authenticate(scheme: "basic", principal: "neo4j", credentials: "two") }
        try auth.changePassword(of: "neo4j", to: "two")
        #expect(auth.state.withLock { $0.verified.isEmpty })
        #expect(throws: DatabaseError.self) { try auth.authenticate(scheme: "basic", principal: "neo4j", credentials: "one") }
        #expect(throws: Never.self) { try auth.authenticate(scheme: "basic", principal: "neo4j", credentials: "two") }
        clock.advance(.seconds(601))
        #expect(throws: Never.self) { try auth.authenticate(scheme: "basic", principal: "neo4j", credentials: "two") }
    }

    @Test("users and roles: create, grant, list, delete; bad input is refused with a clear message")
    func management() throws {
        let dir = try TemporaryDirectory()
        let auth = try manager(dir)
        try auth.createUser("alice", password: "pw", requirePasswordChange: false)
        try auth.addRole("reader", to: "alice")
        let alice = try auth.authenticate(scheme: "basic", principal: "alice", credentials: "pw")
        #expect(alice.roles == ["reader"])
        #expect(Permissions.of(roles: alice.roles) == [.read])
        #expect(Permissions.of(roles: ["publisher"]).contains(.createToken))
        #expect(!Permissions.of(roles: ["editor"]).contains(.createToken))
        #expect(throws: DatabaseError.self) { try auth.createUser("alice", password: "pw", requirePasswordChange: false) }
        #expect(throws: DatabaseError.self) { try auth.createUser("bad name", password: "pw", requirePasswordChange: false) }
        #expect(throws: DatabaseError.self) { try auth.createUser("bob", password: "", requirePasswordChange: false) }
        #expect(throws: DatabaseError.self) { try auth.addRole("wizard", to: "alice") }
        #expect(auth.listUsers().map(\.name) == ["alice", "neo4j"])
        #expect(throws: DatabaseError.self) { try auth.deleteUser("neo4j", by: "neo4j") }
        try auth.deleteUser("alice", by: "neo4j")
        #expect(try manager(dir).listUsers().map(\.name) == ["neo4j"])
        #expect(auth.listRoles().first { $0.role == "reader" }?.users == [])
    }

    @Test("set-initial-password writes neo4j without a required change, and refuses once users exist")
    func initialPassword() throws {
        let dir = try TemporaryDirectory()
        try AuthManager.setInitialPassword("chosen", directory: dir.path + "/dbms", iterations: 10)
        let user = try manager(dir).authenticate(scheme: "basic", principal: "neo4j", credentials: "chosen")
        #expect(!user.passwordChangeRequired)
        #expect(throws: DatabaseError.self) {
            try AuthManager.setInitialPassword("again", directory: dir.path + "/dbms", iterations: 10)
        }
    }

    @Test("with auth disabled anyone is accepted with every permission")
    func disabled() throws {
        let dir = try TemporaryDirectory()
        let user = try manager(dir, enabled: false).authenticate(scheme: "none", principal: nil, credentials: nil)
        #expect(Permissions.of(roles: user.roles) == .all)
        #expect(!user.passwordChangeRequired)
    }
}
