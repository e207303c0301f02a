import BoltCore
import NIOCore
import Testing

@Suite("Chunking (bolt.md §2)")
struct ChunkingTests {
    @Test("the probe's PULL frame decodes whole, whatever the split")
    func anySplit() throws {
        let frame = hexBytes("0008b13fa1816ec903e80000")
        for split in 0...frame.count {
            var decoder = BoltChunkDecoder(maxMessageBytes: 1 << 20)
            var b = ByteBuffer(bytes: frame[..<split])
            var messages: [[UInt8]] = []
            if let m = try decoder.next(from: &b) { messages.append(Array(m.readableBytesView)) }
            b.writeBytes(frame[split...])
            while let m = try decoder.next(from: &b) { messages.append(Array(m.readableBytesView)) }
            #expect(messages == [hexBytes("b13fa1816ec903e8")], "split at \(split)")
        }
    }

    @Test("NOOP chunks between messages are skipped; multi-chunk messages are joined")
    func noopsAndJoins() throws {
        var decoder = BoltChunkDecoder(maxMessageBytes: 1 << 20)
        var b = ByteBuffer(bytes: hexBytes("0000 0000 0002 b00f 0000 0000 0001 b0 0001 02 0000"))
        var out: [[UInt8]] = []
        while let m = try decoder.next(from: &b) { out.append(Array(m.readableBytesView)) }
        #expect(out == [[0xB0, 0x0F], [0xB0, 0x02]])
        #expect(!decoder.hasPartialMessage)
    }

    @Test("a message over the limit is refused as soon as a chunk crosses it")
    func tooLarge() throws {
        var decoder = BoltChunkDecoder(maxMessageBytes: 10)
        var b = ByteBuffer(bytes: hexBytes("0008 0102030405060708 0004 01020304"))
        #expect(throws: BoltChunkDecoder.Error.messageTooLarge(limitBytes: 10)) { try decoder.next(from: &b) }
    }

    @Test("bodies above 65535 bytes are split into full chunks and rejoined")
    func bigBodies() throws {
        for size in [0, 1, 65_535, 65_536, 200_000] {
            let body = (0..<size).map { UInt8($0 % 251) }
            let framed = chunked(body)
            let chunks = max(1, (size + 65_534) / 65_535)
            #expect(framed.count == size + 2 * chunks + 2, "size \(size)")
            var decoder = BoltChunkDecoder(maxMessageBytes: 1 << 20)
            var b = ByteBuffer(bytes: framed)
            if size == 0 {
                // An empty body is indistinguishable from a NOOP: nothing comes out.
                #expect(try decoder.next(from: &b) == nil)
            } else {
                let m = try decoder.next(from: &b)
                #expect(m.map { Array($0.readableBytesView) } == body)
            }
        }
    }
}
