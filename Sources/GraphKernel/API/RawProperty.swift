import GraphValues

/// A property value as a scan reads it, without building a `Value` for the common scalar cases: a boolean,
/// integer, float or string of at most 8 UTF-8 bytes comes as raw bits; anything else (longer strings, lists,
/// temporals, points) is decoded into a `Value` stored beside it.
///
/// Meant for loops over many nodes that aggregate or compare values (a grouping over a label scan): they can
/// hash and compare the raw bits and decode only what they output. Two equal raw properties are always equal
/// values; the converse does not hold (1 and 1.0, or canonically equivalent strings with different bytes), so
/// a user of the bits must treat them as a refinement of Cypher equality, never as equality itself.
public struct RawProperty: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        /// The node has no such property (Cypher `null`).
        case absent = 0
        /// `bits` is 0 or 1.
        case boolean = 1
        /// `bits` is the `Int64` bit pattern.
        case integer = 2
        /// `bits` is the `Double` bit pattern.
        case float = 3
        /// `bits` holds the UTF-8 bytes, byte `i` in bits `8i..<8i+8`; `length` is the byte count (≤ 8).
        case shortString = 4
        /// Any other value: `bits` is its index in the side array of decoded values.
        case decoded = 5
    }

    public var kind: Kind
    /// UTF-8 byte count of a short string, 0 otherwise.
    public var length: UInt8
    public var bits: UInt64

    @inlinable
    public init(kind: Kind, length: UInt8 = 0, bits: UInt64 = 0) {
        self.kind = kind
        self.length = length
        self.bits = bits
    }

    public static let absent = RawProperty(kind: .absent)

    /// The raw form of `value`; values that are not raw scalars are appended to `decoded`.
    public static func from(_ value: Value, decoded: inout [Value]) -> RawProperty {
        switch value {
        case .null: return .absent
        case .boolean(let b): return RawProperty(kind: .boolean, bits: b ? 1 : 0)
        case .integer(let i): return RawProperty(kind: .integer, bits: UInt64(bitPattern: i))
        case .float(let d): return RawProperty(kind: .float, bits: d.bitPattern)
        case .string(let s) where s.utf8.count <= 8:
            var bits: UInt64 = 0
            var i: UInt64 = 0
            for byte in s.utf8 {
                bits |= UInt64(byte) << (8 * i)
                i += 1
            }
            return RawProperty(kind: .shortString, length: UInt8(i), bits: bits)
        default:
            decoded.append(value)
            return RawProperty(kind: .decoded, bits: UInt64(decoded.count - 1))
        }
    }

    /// The `Value` this stands for; `decoded` is the side array it was read with.
    @inlinable
    public func value(_ decoded: [Value]) -> Value {
        switch kind {
        case .absent: return .null
        case .boolean: return .boolean(bits != 0)
        case .integer: return .integer(Int64(bitPattern: bits))
        case .float: return .float(Double(bitPattern: bits))
        case .shortString: return .string(RawProperty.shortString(bits: bits, length: length))
        case .decoded: return decoded[Int(bits)]
        }
    }

    /// The string of a short-string property, built in place from the little-endian bits (no heap allocation
    /// for a string this short). Invalid UTF-8 is repaired, as every string read from the store is.
    public static func shortString(bits: UInt64, length: UInt8) -> String {
        let count = Int(min(length, 8))
        return withUnsafeBytes(of: bits.littleEndian) { raw in
            raw.withMemoryRebound(to: UInt8.self) { bytes in
                String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<count]), as: UTF8.self)
            }
        }
    }
}
