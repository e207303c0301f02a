import BoltCore
import NIOCore
import Testing

@Suite("Handshake negotiation (bolt.md §1)")
struct HandshakeTests {
    static let python = "6060b017 000001ff 00080805 00020404 00000003"  // 6.4.1 and 5.28.8, identical

    func feed(_ hs: inout BoltHandshake, _ hex: String) -> BoltHandshake.Step {
        var b = ByteBuffer(bytes: hexBytes(hex))
        let step = hs.feed(&b)
        return step
    }

    @Test("Python 5.28 / 6.x propose the manifest first: the server lists 5.0-5.8 and 4.4, capabilities 0")
    func pythonManifest() {
        var hs = BoltHandshake()
        #expect(feed(&hs, Self.python) == .sendAndWait(hexBytes("000001ff 02 00080805 00000404 00")))
        // 5.28.8 picks 5.8 (capabilities 0); HELLO may follow in the same segment and must be left in place.
        var b = ByteBuffer(bytes: hexBytes("00000805 00 0003b10100"))
        #expect(hs.feed(&b) == .completed(reply: [], version: .v5_8, viaManifest: true))
        #expect(Array(b.readableBytesView) == hexBytes("0003b10100"))
    }

    @Test("Python 6.4 choosing a version that was not offered (6.1) is refused")
    func manifestUnofferedChoice() {
        var hs = BoltHandshake()
        _ = feed(&hs, Self.python)
        guard case .reject = feed(&hs, "00000106 00") else {
            Issue.record("6.1 accepted")
            return
        }
    }

    @Test("a multi-byte capability mask is read whole, and bytes may arrive one at a time")
    func manifestDripFed() {
        var hs = BoltHandshake()
        var steps: [BoltHandshake.Step] = []
        var b = ByteBuffer()
        for byte in hexBytes(Self.python + "00000705 ff8271") {
            b.writeInteger(byte)
            let step = hs.feed(&b)
            if step != .needMoreBytes { steps.append(step) }
        }
        #expect(steps == [
            .sendAndWait(hexBytes("000001ff 02 00080805 00000404 00")),
            .completed(reply: [], version: .v5_7, viaManifest: true),
        ])
        #expect(b.readableBytes == 0)
    }

    @Test("the reference manifest reply for a 5.7 + 4.4 server")
    func manifestSubset() {
        var hs = BoltHandshake(supported: [.v5_7, .v4_4])
        #expect(feed(&hs, Self.python) == .sendAndWait(hexBytes("000001ff 02 00000705 00000404 00")))
    }

    @Test("legacy proposals get the 4-byte reply with the best version of the first matching slot")
    func legacy() {
        let cases: [(String, [UInt8], BoltVersion)] = [
            // Python 5.26 (no manifest): 5.7-5.0 first.
            ("6060b017 00070705 00020404 00000104 00000003", hexBytes("00000705"), .v5_7),
            // .NET 5.26: 5.6-5.0.
            ("6060b017 00060605 00020404 00000104 00000003", hexBytes("00000605"), BoltVersion(5, 6)),
            // A driver asking 5.8 down to 5.0 without the manifest.
            ("6060b017 00080805 00020404 00000000 00000000", hexBytes("00000805"), .v5_8),
            // 4.4 only (range 4.2-4.4).
            ("6060b017 00020404 00000003 00000000 00000000", hexBytes("00000404"), .v4_4),
            // A future 5.9 with range 1: 5.8 is in range.
            ("6060b017 00010905 00000000 00000000 00000000", hexBytes("00000805"), .v5_8),
        ]
        for (proposal, reply, version) in cases {
            var hs = BoltHandshake()
            #expect(feed(&hs, proposal) == .completed(reply: reply, version: version, viaManifest: false))
        }
        // A 4.4-only server answers the manifest listing just 4.4.
        var old = BoltHandshake(supported: [.v4_4])
        #expect(feed(&old, Self.python) == .sendAndWait(hexBytes("000001ff 01 00000404 00")))
    }

    @Test("no common version: 00000000 and close; not Bolt at all: close without a reply")
    func rejections() {
        var hs = BoltHandshake()
        #expect(feed(&hs, "6060b017 00000003 00000002 00000001 00000000")
            == .reject(reply: [0, 0, 0, 0], reason: "no common Bolt version"))
        var http = BoltHandshake()
        #expect(feed(&http, "47455420 2f20")
            == .reject(reply: [], reason: "HTTP request on the Bolt port"))
        var junk = BoltHandshake()
        #expect(feed(&junk, "16030100") == .reject(reply: [], reason: "not a Bolt handshake"))
        var short = BoltHandshake()
        #expect(feed(&short, "6060b017 0000") == .needMoreBytes)
    }

    @Test("varint is LEB128")
    func varint() {
        #expect(BoltHandshake.varint(1) == [0x01])
        #expect(BoltHandshake.varint(127) == [0x7F])
        #expect(BoltHandshake.varint(128) == [0x80, 0x01])
        #expect(BoltHandshake.varint(1_851_775) == [0xFF, 0x82, 0x71])
    }
}
