import BoltCore
import GraphValues
import NIOCore
import Testing

@Suite("Response encoding")
struct ResponseEncoderTests {
    func decodeMessage(_ bytes: [UInt8]) throws -> (UInt8, Value) {
        var b = ByteBuffer(bytes: bytes)
        var dechunker = BoltChunkDecoder(maxMessageBytes: 1 << 24)
        var body = try #require(try dechunker.next(from: &b))
        let d = PackStreamDecoder(options: v5, allowGraphStructures: true)
        let (tag, count) = try d.readStructHeader(from: &body)
        #expect(count == 1)
        return (tag, try d.readValue(from: &body))
    }

    @Test("FAILURE uses code/message up to 5.6 and the GQL keys from 5.7 (bolt.md §5)")
    func failureFormats() throws {
        let e = DatabaseError(.deadlockDetected, "deadlock")
        var old = ByteBuffer()
        BoltResponseEncoder(version: BoltVersion(5, 6)).writeFailure(e, to: &old)
        let (tag, meta) = try decodeMessage(Array(old.readableBytesView))
        #expect(tag == 0x7F)
        #expect(meta == .map(["code": .string("Neo.TransientError.Transaction.DeadlockDetected"),
            "message": .string("deadlock")]))
        var new = ByteBuffer()
        BoltResponseEncoder(version: .v5_8).writeFailure(e, to: &new)
        guard case (0x7F, .map(let m)) = try decodeMessage(Array(new.readableBytesView)) else {
            Issue.record("not a FAILURE map")
            return
        }
        #expect(m["neo4j_code"] == .string("Neo.TransientError.Transaction.DeadlockDetected"))
        #expect(m["code"] == nil)
        #expect(m["gql_status"] == .string("50N42"))
        guard case .map(let diag)? = m["diagnostic_record"] else {
            Issue.record("no diagnostic record")
            return
        }
        #expect(diag["_classification"] == .string("TRANSIENT_ERROR"))
    }

    @Test("IGNORED, SUCCESS and RECORD frames")
    func frames() throws {
        var b = ByteBuffer()
        let enc = BoltResponseEncoder(version: .v5_8)
        enc.writeIgnored(to: &b)
        #expect(Array(b.readableBytesView) == hexBytes("0002 b07e 0000"))
        b.clear()
        enc.writeRecord([.integer(1)], to: &b)
        #expect(Array(b.readableBytesView) == hexBytes("0004 b171 9101 0000"))
        b.clear()
        enc.writeSuccess([:], to: &b)
        #expect(Array(b.readableBytesView) == hexBytes("0003 b170a0 0000"))
        // A record bigger than one chunk.
        b.clear()
        let big = String(repeating: "x", count: 100_000)
        enc.writeRecord([.string(big)], to: &b)
        let (tag, value) = try decodeMessage(Array(b.readableBytesView))
        #expect(tag == 0x71)
        #expect(value == .list([.string(big)]))
    }
}
