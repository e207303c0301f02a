import BoltCore
import BoltServer
import GraphValues
import Testing

/// The null server is a measuring tool; these pin the reply shapes the benchmark relies on (a driver must see the
/// same message sequence as from Trellis) and that a body split over many chunks is skipped, not misread.
@Suite("Null Bolt server")
struct NullBoltServerTests {
    func withNullServer(_ body: (Int) throws -> Void) throws {
        let server = try NullBoltServer(host: "127.0.0.1", port: 0, serverAgent: "Neo4j/5.26.0")
        defer { try? server.stop() }
        try body(server.port)
    }

    @Test("answers HELLO, LOGON, an auto-commit read and a write with Trellis-shaped replies")
    func autoCommit() throws {
        try withNullServer { port in
            let client = try RawBoltClient(port: port)
            let hello = try client.open()
            #expect(hello.metadata["server"] == .string("Neo4j/5.26.0"))
            #expect(hello.metadata["protocol_version"] == .string("5.8"))
            try client.send(run("MATCH (p:Person {id:$id}) RETURN p.name, p.age AS age", ["id": .integer(1)]) + pull())
            let read = try client.readReplies(3)
            #expect(read[0].metadata["fields"] == .list([.string("p.name"), .string("age")]))
            #expect(read[1] == .record([.integer(1), .integer(2)]))
            #expect(read[2].metadata["type"] == .string("r"))
            #expect(read[2].metadata["bookmark"] != nil)
            #expect(read[2].metadata["stats"] == nil)
            try client.send(run("CREATE (:Person {id:$id})", ["id": .integer(1)]) + pull())
            let write = try client.readReplies(2)
            #expect(write[0].metadata["fields"] == .list([]))
            #expect(write[1].metadata["type"] == .string("w"))
            guard case .map(let stats)? = write[1].metadata["stats"] else {
                Issue.record("no stats in \(write[1])")
                return
            }
            #expect(stats["nodes-created"] == .integer(1))
            #expect(stats["contains-updates"] == .boolean(true))
        }
    }

    @Test("skips a RUN whose parameters span many chunks and answers the transaction messages")
    func chunkedBodyInTransaction() throws {
        try withNullServer { port in
            let client = try RawBoltClient(port: port)
            let opened = try client.open(version: .v4_4)
            #expect(opened.isSuccess)
            client.options = PackStreamOptions(version: .v4_4)
            // 3,000 maps of ~60 bytes: a 180 kB body, so three 65,535-byte chunks with headers between them.
            let rows: [Value] = (0..<3_000).map {
                .map(["id": .integer(Int64($0)), "name": .string(String(repeating: "x", count: 40))])
            }
            try client.send(begin() + run("UNWIND $rows AS r CREATE (:Person {id: r.id})", ["rows": .list(rows)])
                + pull() + commitMessage)
            let replies = try client.readReplies(4)
            #expect(replies.allSatisfy { $0.isSuccess }, "\(replies)")
            #expect(replies[2].metadata["bookmark"] == nil)
            #expect(replies[3].metadata["bookmark"] != nil)
            try client.send(run("RETURN 1 AS x") + discard() + goodbyeMessage)
            let discarded = try client.readReplies(2)
            #expect(discarded[0].metadata["fields"] == .list([.string("x")]))
            #expect(discarded[1].metadata["type"] == .string("r"))
            #expect(client.waitForClose())
        }
    }
}
