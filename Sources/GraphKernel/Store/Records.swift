/// Fixed-size record layouts. Every record starts with a flags byte whose bit 0 is "in use"; all integers are
/// little-endian; "no record" is -1 (`noID`). The byte-by-byte layout is documented in docs/storage.md; keep the
/// two in step. Records never straddle an 8 KiB page (`recordsPerPage = pageSize / recordSize`).

let noID: Int64 = -1

/// Which store a record command belongs to (persisted in the transaction log: never renumber).
enum StoreKind: UInt8, CaseIterable, Sendable {
    case node = 1
    case relationship = 2
    case relationshipGroup = 3
    case property = 4
    case propertyValue = 5
    case nodeLabels = 6
    case labelToken = 7
    case labelTokenName = 8
    case relationshipTypeToken = 9
    case relationshipTypeTokenName = 10
    case propertyKeyToken = 11
    case propertyKeyTokenName = 12

    var recordSize: Int {
        switch self {
        case .node: return NodeRecord.size
        case .relationship: return RelationshipRecord.size
        case .relationshipGroup: return RelationshipGroupRecord.size
        case .property: return PropertyRecord.size
        case .propertyValue: return DynamicRecord.valueRecordSize
        case .nodeLabels: return DynamicRecord.labelRecordSize
        case .labelToken, .relationshipTypeToken, .propertyKeyToken: return TokenRecord.size
        case .labelTokenName, .relationshipTypeTokenName, .propertyKeyTokenName: return DynamicRecord.nameRecordSize
        }
    }

    var fileName: String {
        switch self {
        case .node: return "neostore.nodestore.db"
        case .relationship: return "neostore.relationshipstore.db"
        case .relationshipGroup: return "neostore.relationshipgroupstore.db"
        case .property: return "neostore.propertystore.db"
        case .propertyValue: return "neostore.propertystore.db.values"
        case .nodeLabels: return "neostore.nodestore.db.labels"
        case .labelToken: return "neostore.labeltokenstore.db"
        case .labelTokenName: return "neostore.labeltokenstore.db.names"
        case .relationshipTypeToken: return "neostore.relationshiptypestore.db"
        case .relationshipTypeTokenName: return "neostore.relationshiptypestore.db.names"
        case .propertyKeyToken: return "neostore.propertystore.db.index"
        case .propertyKeyTokenName: return "neostore.propertystore.db.index.keys"
        }
    }

    /// Human name used by the consistency checker.
    var recordName: String {
        switch self {
        case .node: return "node"
        case .relationship: return "relationship"
        case .relationshipGroup: return "relationship group"
        case .property: return "property"
        case .propertyValue: return "property value (dynamic)"
        case .nodeLabels: return "node label overflow (dynamic)"
        case .labelToken: return "label token"
        case .labelTokenName: return "label token name (dynamic)"
        case .relationshipTypeToken: return "relationship type token"
        case .relationshipTypeTokenName: return "relationship type token name (dynamic)"
        case .propertyKeyToken: return "property key token"
        case .propertyKeyTokenName: return "property key token name (dynamic)"
        }
    }
}

// MARK: - Raw access helpers

extension UnsafeMutableRawPointer {
    @inline(__always) func int64(_ offset: Int) -> Int64 {
        Int64(littleEndian: loadUnaligned(fromByteOffset: offset, as: Int64.self))
    }
    @inline(__always) func int32(_ offset: Int) -> Int32 {
        Int32(littleEndian: loadUnaligned(fromByteOffset: offset, as: Int32.self))
    }
    @inline(__always) func uint32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) func byte(_ offset: Int) -> UInt8 { load(fromByteOffset: offset, as: UInt8.self) }
    @inline(__always) func setInt64(_ offset: Int, _ v: Int64) {
        storeBytes(of: v.littleEndian, toByteOffset: offset, as: Int64.self)
    }
    @inline(__always) func setInt32(_ offset: Int, _ v: Int32) {
        storeBytes(of: v.littleEndian, toByteOffset: offset, as: Int32.self)
    }
    @inline(__always) func setUInt32(_ offset: Int, _ v: UInt32) {
        storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inline(__always) func setByte(_ offset: Int, _ v: UInt8) { storeBytes(of: v, toByteOffset: offset, as: UInt8.self) }
}

// MARK: - Node

/// Node record, 32 bytes:
/// 0 flags (bit0 in use, bit1 dense) · 1–8 first relationship, or first relationship group when dense ·
/// 9–16 first property record · 17 inline label count (0–3) or 0xFF when labels overflow ·
/// 18–29 up to three label tokens (Int32), or 18–25 the first overflow dynamic record · 30–31 reserved.
struct NodeRecord: Equatable {
    static let size = 32
    static let maxInlineLabels = 3
    static let overflowMarker: UInt8 = 0xFF

    var inUse = false
    var dense = false
    var nextRel: Int64 = noID
    var nextProp: Int64 = noID
    /// Inline labels (count ≤ 3) when `labelOverflow == noID`.
    var labelCount: UInt8 = 0
    var label0: Int32 = 0
    var label1: Int32 = 0
    var label2: Int32 = 0
    var labelOverflow: Int64 = noID

    init() {}

    init(from p: UnsafeMutableRawPointer) {
        let flags = p.byte(0)
        inUse = flags & 1 != 0
        dense = flags & 2 != 0
        nextRel = p.int64(1)
        nextProp = p.int64(9)
        labelCount = p.byte(17)
        if labelCount == Self.overflowMarker {
            labelOverflow = p.int64(18)
        } else {
            label0 = p.int32(18)
            label1 = p.int32(22)
            label2 = p.int32(26)
        }
    }

    func encode(to p: UnsafeMutableRawPointer) {
        p.setByte(0, (inUse ? 1 : 0) | (dense ? 2 : 0))
        p.setInt64(1, nextRel)
        p.setInt64(9, nextProp)
        if labelOverflow != noID {
            p.setByte(17, Self.overflowMarker)
            p.setInt64(18, labelOverflow)
            p.setInt32(26, 0)
        } else {
            p.setByte(17, labelCount)
            p.setInt32(18, label0)
            p.setInt32(22, label1)
            p.setInt32(26, label2)
        }
        p.setByte(30, 0)
        p.setByte(31, 0)
    }

    var inlineLabels: [Int32] {
        switch labelCount {
        case 0: return []
        case 1: return [label0]
        case 2: return [label0, label1]
        default: return [label0, label1, label2]
        }
    }

    mutating func setInlineLabels(_ labels: [Int32]) {
        precondition(labels.count <= Self.maxInlineLabels, "too many inline labels: \(labels.count)")
        labelCount = UInt8(labels.count)
        label0 = labels.count > 0 ? labels[0] : 0
        label1 = labels.count > 1 ? labels[1] : 0
        label2 = labels.count > 2 ? labels[2] : 0
        labelOverflow = noID
    }
}

// MARK: - Relationship

/// Relationship record, 64 bytes: 0 flags (bit0 in use, bit1 first in start node's chain, bit2 first in end
/// node's chain) · 1–4 type · 5–12 start node · 13–20 end node · 21–28 start chain prev · 29–36 start chain next ·
/// 37–44 end chain prev · 45–52 end chain next · 53–60 first property · 61–63 reserved.
/// A self-loop sits once in its node's chain and uses only the start-side pointers (end-side ones stay -1).
/// The first relationship of a chain keeps the chain's length in its prev pointer for that node (as Neo4j does).
struct RelationshipRecord: Equatable {
    static let size = 64

    var inUse = false
    var firstInStartChain = false
    var firstInEndChain = false
    var type: Int32 = 0
    var startNode: Int64 = noID
    var endNode: Int64 = noID
    var startPrev: Int64 = noID
    var startNext: Int64 = noID
    var endPrev: Int64 = noID
    var endNext: Int64 = noID
    var nextProp: Int64 = noID

    init() {}

    @inline(__always) init(from p: UnsafeMutableRawPointer) {
        let flags = p.byte(0)
        inUse = flags & 1 != 0
        firstInStartChain = flags & 2 != 0
        firstInEndChain = flags & 4 != 0
        type = p.int32(1)
        startNode = p.int64(5)
        endNode = p.int64(13)
        startPrev = p.int64(21)
        startNext = p.int64(29)
        endPrev = p.int64(37)
        endNext = p.int64(45)
        nextProp = p.int64(53)
    }

    func encode(to p: UnsafeMutableRawPointer) {
        p.setByte(0, (inUse ? 1 : 0) | (firstInStartChain ? 2 : 0) | (firstInEndChain ? 4 : 0))
        p.setInt32(1, type)
        p.setInt64(5, startNode)
        p.setInt64(13, endNode)
        p.setInt64(21, startPrev)
        p.setInt64(29, startNext)
        p.setInt64(37, endPrev)
        p.setInt64(45, endNext)
        p.setInt64(53, nextProp)
        p.setByte(61, 0)
        p.setByte(62, 0)
        p.setByte(63, 0)
    }

    /// Whether `node`'s chain links through the start-side pointers (true also for self-loops).
    @inline(__always) func usesStartSide(_ node: Int64) -> Bool { startNode == node }

    @inline(__always) func next(for node: Int64) -> Int64 { usesStartSide(node) ? startNext : endNext }
    @inline(__always) func prev(for node: Int64) -> Int64 { usesStartSide(node) ? startPrev : endPrev }
    @inline(__always) func isFirst(for node: Int64) -> Bool {
        usesStartSide(node) ? firstInStartChain : firstInEndChain
    }

    mutating func setNext(for node: Int64, _ v: Int64) {
        if usesStartSide(node) { startNext = v } else { endNext = v }
    }
    mutating func setPrev(for node: Int64, _ v: Int64) {
        if usesStartSide(node) { startPrev = v } else { endPrev = v }
    }
    mutating func setFirst(for node: Int64, _ v: Bool) {
        if usesStartSide(node) { firstInStartChain = v } else { firstInEndChain = v }
    }
}

// MARK: - Relationship group

/// Relationship group record (dense nodes), 48 bytes: 0 flags (bit0 in use) · 1–4 type · 5–12 next group ·
/// 13–20 first outgoing · 21–28 first incoming · 29–36 first loop · 37–44 owning node · 45–47 reserved.
struct RelationshipGroupRecord: Equatable {
    static let size = 48

    var inUse = false
    var type: Int32 = 0
    var next: Int64 = noID
    var firstOut: Int64 = noID
    var firstIn: Int64 = noID
    var firstLoop: Int64 = noID
    var owner: Int64 = noID

    init() {}

    init(from p: UnsafeMutableRawPointer) {
        inUse = p.byte(0) & 1 != 0
        type = p.int32(1)
        next = p.int64(5)
        firstOut = p.int64(13)
        firstIn = p.int64(21)
        firstLoop = p.int64(29)
        owner = p.int64(37)
    }

    func encode(to p: UnsafeMutableRawPointer) {
        p.setByte(0, inUse ? 1 : 0)
        p.setInt32(1, type)
        p.setInt64(5, next)
        p.setInt64(13, firstOut)
        p.setInt64(21, firstIn)
        p.setInt64(29, firstLoop)
        p.setInt64(37, owner)
        p.setByte(45, 0)
        p.setByte(46, 0)
        p.setByte(47, 0)
    }
}

// MARK: - Property

/// One property in a property record: key, value type, and 8 payload bytes (the value itself when it fits,
/// otherwise the first dynamic record of its encoding).
struct PropertyBlock: Equatable {
    var key: Int32
    var type: PropertyType
    /// Byte length of an inline short string; unused otherwise.
    var inlineLength: UInt8
    var payload: Int64
}

/// Property block value types (persisted: never renumber).
enum PropertyType: UInt8 {
    case boolean = 1
    case integer = 2
    case float = 3
    /// UTF-8 of up to 8 bytes, in the payload.
    case shortString = 4
    /// Payload is the first dynamic record holding the UTF-8.
    case string = 5
    /// Days since epoch in the payload.
    case date = 6
    /// Nanoseconds of day in the payload.
    case localTime = 7
    /// Payload is the first dynamic record of an encoded value (byte arrays, lists, other temporal, point).
    case encoded = 8
}

/// Property record, 64 bytes: 0 flags (bit0 in use) · 1 block count (0–3) · 2–7 reserved · 8–15 next property
/// record · then three 16-byte blocks at 16, 32, 48: key (Int32) · type (UInt8) · inline length (UInt8) ·
/// 2 reserved · payload (8 bytes).
struct PropertyRecord: Equatable {
    static let size = 64
    static let blocksPerRecord = 3

    var inUse = false
    var next: Int64 = noID
    var blocks: [PropertyBlock] = []

    init() {}

    init(from p: UnsafeMutableRawPointer) {
        inUse = p.byte(0) & 1 != 0
        next = p.int64(8)
        let count = min(Int(p.byte(1)), Self.blocksPerRecord)
        blocks.reserveCapacity(count)
        for i in 0..<count {
            let base = 16 + i * 16
            let type = PropertyType(rawValue: p.byte(base + 4)) ?? .integer
            blocks.append(
                PropertyBlock(key: p.int32(base), type: type, inlineLength: p.byte(base + 5), payload: p.int64(base + 8)))
        }
    }

    func encode(to p: UnsafeMutableRawPointer) {
        precondition(blocks.count <= Self.blocksPerRecord, "property record with \(blocks.count) blocks")
        p.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
        p.setByte(0, inUse ? 1 : 0)
        p.setByte(1, UInt8(blocks.count))
        p.setInt64(8, next)
        for (i, block) in blocks.enumerated() {
            let base = 16 + i * 16
            p.setInt32(base, block.key)
            p.setByte(base + 4, block.type.rawValue)
            p.setByte(base + 5, block.inlineLength)
            p.setInt64(base + 8, block.payload)
        }
    }
}

// MARK: - Dynamic

/// Dynamic record (long strings, encoded values, label overflow, token names): 0 flags (bit0 in use, bit1 first
/// record of a chain) · 1–3 reserved · 4–7 bytes used in this record · 8–15 next record · 16… data.
/// Value records are 128 bytes (112 data), label overflow records 64 (48 data), token name records 64 (48 data).
struct DynamicRecord: Equatable {
    static let headerSize = 16
    static let valueRecordSize = 128
    static let labelRecordSize = 64
    static let nameRecordSize = 64

    var inUse = false
    var isStart = false
    var next: Int64 = noID
    var data: [UInt8] = []

    init() {}

    init(from p: UnsafeMutableRawPointer, recordSize: Int) {
        let flags = p.byte(0)
        inUse = flags & 1 != 0
        isStart = flags & 2 != 0
        next = p.int64(8)
        let used = min(Int(p.uint32(4)), recordSize - Self.headerSize)
        data = Array(UnsafeRawBufferPointer(start: p + Self.headerSize, count: used))
    }

    func encode(to p: UnsafeMutableRawPointer, recordSize: Int) {
        precondition(data.count <= recordSize - Self.headerSize, "dynamic record overfull: \(data.count)")
        p.initializeMemory(as: UInt8.self, repeating: 0, count: recordSize)
        p.setByte(0, (inUse ? 1 : 0) | (isStart ? 2 : 0))
        p.setUInt32(4, UInt32(data.count))
        p.setInt64(8, next)
        data.withUnsafeBytes { src in
            if src.count > 0 { (p + Self.headerSize).copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
    }
}

// MARK: - Token

/// Token record, 16 bytes: 0 flags (bit0 in use) · 1–8 first name record · 9–15 reserved.
struct TokenRecord: Equatable {
    static let size = 16

    var inUse = false
    var nameRecord: Int64 = noID

    init() {}

    init(from p: UnsafeMutableRawPointer) {
        inUse = p.byte(0) & 1 != 0
        nameRecord = p.int64(1)
    }

    func encode(to p: UnsafeMutableRawPointer) {
        p.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
        p.setByte(0, inUse ? 1 : 0)
        p.setInt64(1, nameRecord)
    }
}
