import BoltCore
import GraphValues
import NIOCore
import Testing
import TrellisService

@Suite("Request decoding (bolt.md §3.3, §4)")
struct RequestDecoderTests {
    let decoder5 = BoltRequestDecoder(version: .v5_8)
    let decoder44 = BoltRequestDecoder(version: .v4_4)

    /// Strips the chunk header and end marker of a single-chunk capture.
    func body(_ rawChunked: String) -> ByteBuffer {
        let bytes = hexBytes(rawChunked)
        return buffer(Array(bytes[2..<(bytes.count - 2)]))
    }

    @Test("captured RUN, PULL and ROUTE frames of the Python drivers")
    func captures() throws {
        #expect(try decoder5.decode(body("001eb3108d52455455524e20312041532078a1817001a1826462856e656f346a0000"))
            == .run(query: "RETURN 1 AS x", parameters: ["p": .integer(1)],
                options: TransactionOptions(database: "neo4j")))
        #expect(try decoder5.decode(body("0012b3108d52455455524e20312041532078a0a00000"))
            == .run(query: "RETURN 1 AS x", parameters: [:], options: TransactionOptions()))
        #expect(try decoder5.decode(body("0008b13fa1816ec903e80000")) == .pull(n: 1000, qid: -1))
        #expect(try decoder5.decode(body("001fb310844e4f4445a0a189626f6f6b6d61726b73918a70726f62652d626d3a340000"))
            == .run(query: "NODE", parameters: [:], options: TransactionOptions(bookmarks: ["probe-bm:4"])))
        #expect(try decoder5.decode(body("001db366a187616464726573738f3132372e302e302e313a313736383890a00000"))
            == .route(context: ["address": "127.0.0.1:17688"], bookmarks: [], database: nil, impersonatedUser: nil))
    }

    func encodeMessage(tag: UInt8, _ fields: [Value]) -> ByteBuffer {
        var b = ByteBuffer()
        PackStreamEncoder.writeStructHeader(tag: tag, fieldCount: fields.count, to: &b)
        for f in fields { PackStreamEncoder(options: v5).write(f, to: &b) }
        return b
    }

    @Test("BEGIN extra: bookmarks, tx_timeout in ms, tx_metadata, mode r, db, imp_user")
    func beginExtra() throws {
        let extra: Value = .map([
            "bookmarks": .list([.string("bm:2")]), "tx_timeout": .integer(5000),
            "tx_metadata": .map(["app": .string("probe")]), "mode": .string("r"), "db": .string("neo4j"),
            "imp_user": .string("bob"),
        ])
        let expected = TransactionOptions(mode: .read, bookmarks: ["bm:2"], timeout: .milliseconds(5000),
            metadata: ["app": .string("probe")], database: "neo4j", impersonatedUser: "bob")
        #expect(try decoder5.decode(encodeMessage(tag: 0x11, [extra])) == .begin(expected))
        // Empty db means the home database.
        #expect(try decoder5.decode(encodeMessage(tag: 0x11, [.map(["db": .string("")])]))
            == .begin(TransactionOptions()))
    }

    @Test("HELLO: auth inside HELLO up to 5.0, routing, the utc patch; LOGON from 5.1")
    func helloAndLogon() throws {
        let hello: Value = .map([
            "user_agent": .string("neo4j-python/6.4.1"), "routing": .map(["address": .string("h:1")]),
            "patch_bolt": .list([.string("utc")]), "scheme": .string("basic"), "principal": .string("neo4j"),
            "credentials": .string("pw"),
        ])
        #expect(try decoder44.decode(encodeMessage(tag: 0x01, [hello]))
            == .hello(userAgent: "neo4j-python/6.4.1", routing: ["address": "h:1"], patchUTC: true,
                auth: AuthToken(scheme: "basic", principal: "neo4j", credentials: "pw")))
        #expect(try decoder5.decode(encodeMessage(tag: 0x01, [hello]))
            == .hello(userAgent: "neo4j-python/6.4.1", routing: ["address": "h:1"], patchUTC: true, auth: nil))
        #expect(try decoder5.decode(encodeMessage(tag: 0x6A, [.map(["scheme": .string("none")])]))
            == .logon(AuthToken(scheme: "none")))
        // Python with auth=None sends LOGON {}.
        #expect(try decoder5.decode(encodeMessage(tag: 0x6A, [.map([:])])) == .logon(AuthToken(scheme: "none")))
        #expect(try decoder5.decode(encodeMessage(tag: 0x6B, [])) == .logoff)
        #expect(try decoder5.decode(encodeMessage(tag: 0x54, [.integer(2)])) == .telemetry(api: 2))
    }

    @Test("the zero-field messages and DISCARD with qid")
    func simpleMessages() throws {
        #expect(try decoder5.decode(buffer([0xB0, 0x02])) == .goodbye)
        #expect(try decoder5.decode(buffer([0xB0, 0x0F])) == .reset)
        #expect(try decoder5.decode(buffer([0xB0, 0x12])) == .commit)
        #expect(try decoder5.decode(buffer([0xB0, 0x13])) == .rollback)
        #expect(try decoder5.decode(encodeMessage(tag: 0x2F, [.map(["n": .integer(-1), "qid": .integer(3)])]))
            == .discard(n: -1, qid: 3))
    }

    func expectError(_ b: ByteBuffer, fatal: Bool, decoder: BoltRequestDecoder? = nil, _ why: String) {
        do {
            let r = try (decoder ?? decoder5).decode(b)
            Issue.record("\(why): decoded as \(r)")
        } catch {
            #expect(error.fatal == fatal, "\(why): \(error)")
        }
    }

    @Test("broken messages are fatal; well-formed messages with bad fields are not")
    func errors() {
        expectError(buffer([0xB0, 0x55]), fatal: true, "unknown message")
        expectError(buffer([0xB1, 0x02, 0x01]), fatal: true, "GOODBYE with a field")
        expectError(buffer([0xB0, 0x10]), fatal: true, "RUN without fields")
        expectError(buffer([0x91, 0x01]), fatal: true, "not a structure")
        expectError(buffer([0xB0, 0x0F, 0x00]), fatal: true, "trailing bytes")
        expectError(buffer([]), fatal: true, "empty")
        expectError(encodeMessage(tag: 0x6A, [.map([:])]), fatal: true, decoder: decoder44, "LOGON on 4.4")
        expectError(encodeMessage(tag: 0x54, [.integer(1)]), fatal: true, decoder: BoltRequestDecoder(version: .v5_1),
            "TELEMETRY before 5.4")
        expectError(encodeMessage(tag: 0x3F, [.map([:])]), fatal: false, "PULL without n")
        expectError(encodeMessage(tag: 0x3F, [.map(["n": .integer(0)])]), fatal: false, "PULL n=0")
        expectError(encodeMessage(tag: 0x11, [.map(["tx_timeout": .string("5s")])]), fatal: false, "bad timeout")
        expectError(encodeMessage(tag: 0x11, [.map(["bookmarks": .list([.integer(1)])])]), fatal: false,
            "bad bookmark")
        expectError(encodeMessage(tag: 0x11, [.map(["mode": .string("x")])]), fatal: false, "bad mode")
        expectError(encodeMessage(tag: 0x10, [.integer(1), .map([:]), .map([:])]), fatal: false, "query not string")
    }
}
