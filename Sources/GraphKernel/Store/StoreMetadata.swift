#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphValues

/// A store's identity: a random number plus its creation time, as Neo4j's StoreId. Two stores with different ids
/// never exchange transactions (a log or a cluster member of another store is refused).
public struct StoreID: Hashable, Sendable, CustomStringConvertible {
    public var random: UInt64
    /// Milliseconds since 1970-01-01 when the store was created.
    public var creationTimeMillis: Int64

    public init(random: UInt64, creationTimeMillis: Int64) {
        self.random = random
        self.creationTimeMillis = creationTimeMillis
    }

    public var description: String {
        let hex = String(random, radix: 16)
        return "StoreId{random=\(String(repeating: "0", count: max(0, 16 - hex.count)) + hex), created=\(creationTimeMillis)}"
    }
}

/// The `neostore` metadata file: format version, store id, last committed and last checkpointed transaction.
///
/// Layout (little-endian, 128 bytes): 0–7 magic "TRELLIS\0" · 8–11 format version · 12–15 reserved ·
/// 16–23 store id random · 24–31 creation time (ms) · 32–39 last committed tx · 40–47 its checksum ·
/// 48–55 its commit time (ms) · 56–63 last checkpointed tx · 64–119 reserved · 120–127 FNV-1a checksum of 0–119.
/// Written only by atomic replace (temp file, fsync, rename), so it is never torn.
struct StoreMetadata: Equatable {
    static let fileName = "neostore"
    static let magic: [UInt8] = Array("TRELLIS".utf8) + [0]
    static let currentFormatVersion: UInt32 = 1
    static let size = 128

    var formatVersion: UInt32 = currentFormatVersion
    var storeID: StoreID
    var lastCommittedTx: Int64 = 1
    var lastCommittedChecksum: Int64 = 0
    var lastCommittedTimeMillis: Int64 = 0
    var lastCheckpointedTx: Int64 = 1

    init(storeID: StoreID) { self.storeID = storeID }

    static func fresh() -> StoreMetadata {
        var random: UInt64 = 0
        while random == 0 { random = UInt64.random(in: 1...UInt64.max) }
        return StoreMetadata(storeID: StoreID(random: random, creationTimeMillis: currentTimeMillis()))
    }

    func encode() -> [UInt8] {
        var out = Self.magic
        withUnsafeBytes(of: formatVersion.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: [0, 0, 0, 0])
        appendInt64(&out, Int64(bitPattern: storeID.random))
        appendInt64(&out, storeID.creationTimeMillis)
        appendInt64(&out, lastCommittedTx)
        appendInt64(&out, lastCommittedChecksum)
        appendInt64(&out, lastCommittedTimeMillis)
        appendInt64(&out, lastCheckpointedTx)
        out.append(contentsOf: repeatElement(0, count: 120 - out.count))
        appendInt64(&out, Int64(bitPattern: fnv1a(out[0..<120])))
        return out
    }

    /// Parses the file; `path` names it in errors.
    static func decode(_ bytes: [UInt8], path: String) throws -> StoreMetadata {
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else {
            throw DatabaseError(.storageDamageDetected, "\(path) is not a Trellis store: the metadata file has no Trellis header")
        }
        guard bytes.count >= size else {
            throw DatabaseError(.storageDamageDetected, "The store metadata file \(path) is truncated (\(bytes.count) bytes)")
        }
        let version = bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
        if version > currentFormatVersion {
            throw DatabaseError(
                .storageDamageDetected,
                "The store at \(path) has format version \(version), newer than this Trellis supports "
                    + "(\(currentFormatVersion)); use a newer Trellis version")
        }
        guard UInt64(bitPattern: readInt64(bytes, 120)) == fnv1a(bytes[0..<120]) else {
            throw DatabaseError(.storageDamageDetected, "The store metadata file \(path) fails its checksum")
        }
        var meta = StoreMetadata(
            storeID: StoreID(random: UInt64(bitPattern: readInt64(bytes, 16)), creationTimeMillis: readInt64(bytes, 24)))
        meta.formatVersion = version
        meta.lastCommittedTx = readInt64(bytes, 32)
        meta.lastCommittedChecksum = readInt64(bytes, 40)
        meta.lastCommittedTimeMillis = readInt64(bytes, 48)
        meta.lastCheckpointedTx = readInt64(bytes, 56)
        return meta
    }
}

func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01b3
    }
    return hash
}

func currentTimeMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
