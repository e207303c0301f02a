import BoltCore
import GraphValues
import NIOCore

/// Bytes from a hex string; spaces are ignored ("60 60 b0 17").
func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd hex string")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

let v5 = PackStreamOptions(version: .v5_8)
let v44 = PackStreamOptions(version: .v4_4)

func encode(_ value: Value, _ options: PackStreamOptions = v5) -> [UInt8] {
    var b = ByteBuffer()
    PackStreamEncoder(options: options).write(value, to: &b)
    return Array(b.readableBytesView)
}

func decode(_ bytes: [UInt8], _ options: PackStreamOptions = v5, graph: Bool = true, maxDepth: Int = 64) throws
    -> Value
{
    var b = ByteBuffer(bytes: bytes)
    let v = try PackStreamDecoder(options: options, maxDepth: maxDepth, allowGraphStructures: graph)
        .readValue(from: &b)
    guard b.readableBytes == 0 else { throw PackStreamError("trailing bytes") }
    return v
}

func roundTrip(_ value: Value, _ options: PackStreamOptions = v5) throws -> Value {
    try decode(encode(value, options), options)
}

/// Chunks one message body the way a driver does (single chunk when it fits).
func chunked(_ body: [UInt8]) -> [UInt8] {
    var b = ByteBuffer()
    let start = BoltChunkEncoder.beginMessage(&b)
    b.writeBytes(body)
    BoltChunkEncoder.endMessage(&b, start: start)
    return Array(b.readableBytesView)
}
