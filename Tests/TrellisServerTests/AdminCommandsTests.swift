import GraphValues
import Testing

@testable import TrellisServer

@Suite("Session admin commands")
struct AdminCommandsTests {
    @Test("the cheap pre-check lets every admin command through and stops ordinary Cypher")
    func preCheck() throws {
        for query in ["SHOW CURRENT USER", "  show current user;", "\n\tAlter current user set password from 'a' to 'b'",
                      "\u{00A0}SHOW CURRENT USER"] {
            #expect(AdminCommands.mayBeAdmin(query), "\(query)")
        }
        for query in ["MATCH (n) RETURN n", "RETURN 1", "", "   ", "CREATE (:Show)", "SH", "AL", "CALL db.labels()"] {
            #expect(!AdminCommands.mayBeAdmin(query), "\(query)")
        }
    }

    @Test("commands are still recognised behind the pre-check")
    func match() throws {
        #expect(try AdminCommands.match("  show current user ;", parameters: [:]) == .showCurrentUser)
        #expect(try AdminCommands.match("ALTER CURRENT USER SET PASSWORD FROM $o TO 'n'", parameters: ["o": .string("x")])
            == .alterCurrentUserPassword(old: "x", new: "n"))
        #expect(try AdminCommands.match("SHOW INDEXES", parameters: [:]) == nil)
        #expect(try AdminCommands.match("MATCH (n) RETURN n", parameters: [:]) == nil)
    }
}
