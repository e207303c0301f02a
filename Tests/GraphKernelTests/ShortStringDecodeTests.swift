import GraphValues
import Testing

@testable import GraphKernel

/// The short-string read path builds the `String` straight from the block payload; these pin its results to the
/// encoder's byte order and to the behaviour of the former array-based decode on damaged payloads.
@Suite("Short string decode")
struct ShortStringDecodeTests {
    @Test("every inline string length from 0 to 8 bytes round-trips, including multi-byte UTF-8 and NUL")
    func roundTrip() throws {
        let samples = [
            "", "a", "ab", "City07", "abcdefgh", "a\u{0}", "\u{0}\u{0}\u{0}", "é", "日本", "éa日", "😀", "😀abcd",
            "x😀y", "ab\u{0}cd\u{0}ef",
        ]
        for s in samples {
            let encoded = try PropertyValueCodec.encode(.string(s))
            #expect(encoded.type == .shortString, "\(s.debugDescription) should be stored inline")
            #expect(Int(encoded.inlineLength) == s.utf8.count)
            let block = PropertyBlock(key: 1, type: encoded.type, inlineLength: encoded.inlineLength,
                                      payload: encoded.payload)
            let decoded = try PropertyValueCodec.decode(block) { _ in
                Issue.record("a short string must not read dynamic records")
                return []
            }
            #expect(decoded == .string(s), "\(s.debugDescription)")
        }
    }

    @Test("byte i of the string is bits 8i..<8i+8 of the payload (the on-disk layout)")
    func byteOrder() {
        // "abc" = 0x61 0x62 0x63, lowest byte first.
        #expect(PropertyValueCodec.shortString(payload: 0x636261, length: 3) == "abc")
        #expect(PropertyValueCodec.shortString(payload: 0x636261, length: 2) == "ab")
        #expect(PropertyValueCodec.shortString(payload: 0x636261, length: 0) == "")
        #expect(PropertyValueCodec.shortString(payload: -1, length: 0) == "")
        // The top byte of a full 8-byte string is the sign byte of the Int64 payload.
        let h = Int64(bitPattern: 0x6867_6665_6463_6261)
        #expect(PropertyValueCodec.shortString(payload: h, length: 8) == "abcdefgh")
    }

    @Test("damaged payloads decode as before: invalid UTF-8 is repaired and a length over 8 is clamped")
    func damaged() {
        #expect(PropertyValueCodec.shortString(payload: 0xFF61, length: 2) == "a\u{FFFD}")
        #expect(PropertyValueCodec.shortString(payload: 0x61, length: 200).utf8.count == 8)
        #expect(PropertyValueCodec.shortString(payload: 0x6261, length: 200) == "ab" + String(repeating: "\u{0}", count: 6))
    }

    @Test("tagged strings and zone ids decode in place, and a truncated one is reported as damage")
    func taggedStrings() throws {
        let values: [Value] = [
            .list([.string("first string longer than eight"), .string(""), .string("日本語のテキスト")]),
            .dateTime(CypherDateTime(epochSeconds: 5, nanosecond: 6, offsetSeconds: 3600, zoneId: "Europe/Stockholm")),
        ]
        for value in values {
            var bytes: [UInt8] = []
            PropertyValueCodec.encodeTagged(value, into: &bytes)
            var reader = ByteReader(bytes: bytes)
            #expect(try PropertyValueCodec.decodeTagged(&reader) == value)
            #expect(reader.remaining == 0)
            var cut = ByteReader(bytes: Array(bytes.dropLast()))
            #expect(throws: DatabaseError.self) { _ = try PropertyValueCodec.decodeTagged(&cut) }
        }
    }
}
