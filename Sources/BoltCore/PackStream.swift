import GraphValues
import NIOCore

// PackStream v1 (bolt.md §3). Markers are grouped here so the encoder and decoder read alike.
@usableFromInline
enum Marker {
    @usableFromInline static let null: UInt8 = 0xC0
    @usableFromInline static let float64: UInt8 = 0xC1
    @usableFromInline static let falseValue: UInt8 = 0xC2
    @usableFromInline static let trueValue: UInt8 = 0xC3
    @usableFromInline static let int8: UInt8 = 0xC8
    @usableFromInline static let int16: UInt8 = 0xC9
    @usableFromInline static let int32: UInt8 = 0xCA
    @usableFromInline static let int64: UInt8 = 0xCB
    @usableFromInline static let bytes8: UInt8 = 0xCC
    @usableFromInline static let bytes16: UInt8 = 0xCD
    @usableFromInline static let bytes32: UInt8 = 0xCE
    @usableFromInline static let tinyString: UInt8 = 0x80
    @usableFromInline static let string8: UInt8 = 0xD0
    @usableFromInline static let string16: UInt8 = 0xD1
    @usableFromInline static let string32: UInt8 = 0xD2
    @usableFromInline static let tinyList: UInt8 = 0x90
    @usableFromInline static let list8: UInt8 = 0xD4
    @usableFromInline static let list16: UInt8 = 0xD5
    @usableFromInline static let list32: UInt8 = 0xD6
    @usableFromInline static let tinyMap: UInt8 = 0xA0
    @usableFromInline static let map8: UInt8 = 0xD8
    @usableFromInline static let map16: UInt8 = 0xD9
    @usableFromInline static let map32: UInt8 = 0xDA
    @usableFromInline static let tinyStruct: UInt8 = 0xB0
}

/// Structure tags of the value structures (bolt.md §3.1, §3.2).
public enum StructureTag {
    public static let node: UInt8 = 0x4E
    public static let relationship: UInt8 = 0x52
    public static let unboundRelationship: UInt8 = 0x72
    public static let path: UInt8 = 0x50
    public static let date: UInt8 = 0x44
    public static let time: UInt8 = 0x54
    public static let localTime: UInt8 = 0x74
    public static let dateTime: UInt8 = 0x49
    public static let dateTimeZoneId: UInt8 = 0x69
    public static let legacyDateTime: UInt8 = 0x46
    public static let legacyDateTimeZoneId: UInt8 = 0x66
    public static let localDateTime: UInt8 = 0x64
    public static let duration: UInt8 = 0x45
    public static let point2D: UInt8 = 0x58
    public static let point3D: UInt8 = 0x59
}

/// A malformed PackStream value. Bolt answers it with `Neo.ClientError.Request.InvalidFormat`.
public struct PackStreamError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: - Encoder

/// Writes values as PackStream straight into a `ByteBuffer` (no intermediate representation).
public struct PackStreamEncoder: Sendable {
    public var options: PackStreamOptions

    public init(options: PackStreamOptions) {
        self.options = options
    }

    @inlinable
    public static func writeNull(_ buffer: inout ByteBuffer) {
        buffer.writeInteger(Marker.null)
    }

    @inlinable
    public static func writeBool(_ value: Bool, to buffer: inout ByteBuffer) {
        buffer.writeInteger(value ? Marker.trueValue : Marker.falseValue)
    }

    /// Writes the smallest encoding of `value`, as the drivers do.
    @inlinable
    public static func writeInt(_ value: Int64, to buffer: inout ByteBuffer) {
        if value >= -16 && value <= 127 {
            buffer.writeInteger(UInt8(bitPattern: Int8(value)))
        } else if value >= Int64(Int8.min) && value <= Int64(Int8.max) {
            buffer.writeMultipleIntegers(Marker.int8, Int8(value))
        } else if value >= Int64(Int16.min) && value <= Int64(Int16.max) {
            buffer.writeMultipleIntegers(Marker.int16, Int16(value))
        } else if value >= Int64(Int32.min) && value <= Int64(Int32.max) {
            buffer.writeMultipleIntegers(Marker.int32, Int32(value))
        } else {
            buffer.writeMultipleIntegers(Marker.int64, value)
        }
    }

    @inlinable
    public static func writeFloat(_ value: Double, to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(Marker.float64, value.bitPattern)
    }

    @inlinable
    public static func writeString(_ value: String, to buffer: inout ByteBuffer) {
        var value = value
        value.withUTF8 { utf8 in
            writeSizeMarker(utf8.count, tiny: Marker.tinyString, m8: Marker.string8, m16: Marker.string16,
                m32: Marker.string32, to: &buffer)
            buffer.writeBytes(utf8)
        }
    }

    @inlinable
    public static func writeBytes(_ value: [UInt8], to buffer: inout ByteBuffer) {
        precondition(value.count <= Int(Int32.max), "byte array of \(value.count) bytes exceeds PackStream limits")
        if value.count <= Int(UInt8.max) {
            buffer.writeMultipleIntegers(Marker.bytes8, UInt8(value.count))
        } else if value.count <= Int(UInt16.max) {
            buffer.writeMultipleIntegers(Marker.bytes16, UInt16(value.count))
        } else {
            buffer.writeMultipleIntegers(Marker.bytes32, UInt32(value.count))
        }
        buffer.writeBytes(value)
    }

    @inlinable
    public static func writeListHeader(count: Int, to buffer: inout ByteBuffer) {
        writeSizeMarker(count, tiny: Marker.tinyList, m8: Marker.list8, m16: Marker.list16, m32: Marker.list32,
            to: &buffer)
    }

    @inlinable
    public static func writeMapHeader(count: Int, to buffer: inout ByteBuffer) {
        writeSizeMarker(count, tiny: Marker.tinyMap, m8: Marker.map8, m16: Marker.map16, m32: Marker.map32,
            to: &buffer)
    }

    /// A structure header; Bolt structures never have more than 15 fields.
    @inlinable
    public static func writeStructHeader(tag: UInt8, fieldCount: Int, to buffer: inout ByteBuffer) {
        precondition(fieldCount >= 0 && fieldCount < 16, "structure with \(fieldCount) fields")
        buffer.writeMultipleIntegers(Marker.tinyStruct | UInt8(fieldCount), tag)
    }

    @inlinable
    static func writeSizeMarker(
        _ size: Int, tiny: UInt8, m8: UInt8, m16: UInt8, m32: UInt8, to buffer: inout ByteBuffer
    ) {
        precondition(size >= 0 && size <= Int(Int32.max), "size \(size) exceeds PackStream limits")
        if size < 16 {
            buffer.writeInteger(tiny | UInt8(size))
        } else if size <= Int(UInt8.max) {
            buffer.writeMultipleIntegers(m8, UInt8(size))
        } else if size <= Int(UInt16.max) {
            buffer.writeMultipleIntegers(m16, UInt16(size))
        } else {
            buffer.writeMultipleIntegers(m32, UInt32(size))
        }
    }

    public func writeMap(_ map: [String: Value], to buffer: inout ByteBuffer) {
        Self.writeMapHeader(count: map.count, to: &buffer)
        for (key, value) in map {
            Self.writeString(key, to: &buffer)
            write(value, to: &buffer)
        }
    }

    /// Writes one value. Entities are written with or without element ids, and DateTime in the UTC or legacy
    /// form, as `options` say.
    public func write(_ value: Value, to buffer: inout ByteBuffer) {
        switch value {
        case .null:
            buffer.writeInteger(Marker.null)
        case .boolean(let b):
            Self.writeBool(b, to: &buffer)
        case .integer(let i):
            Self.writeInt(i, to: &buffer)
        case .float(let d):
            Self.writeFloat(d, to: &buffer)
        case .string(let s):
            Self.writeString(s, to: &buffer)
        case .bytes(let b):
            Self.writeBytes(b, to: &buffer)
        case .list(let items):
            Self.writeListHeader(count: items.count, to: &buffer)
            for item in items {
                write(item, to: &buffer)
            }
        case .map(let map):
            writeMap(map, to: &buffer)
        case .node(let node):
            writeNode(node, to: &buffer)
        case .relationship(let rel):
            writeRelationship(rel, to: &buffer)
        case .path(let path):
            writePath(path, to: &buffer)
        case .date(let d):
            Self.writeStructHeader(tag: StructureTag.date, fieldCount: 1, to: &buffer)
            Self.writeInt(d.epochDays, to: &buffer)
        case .localTime(let t):
            Self.writeStructHeader(tag: StructureTag.localTime, fieldCount: 1, to: &buffer)
            Self.writeInt(t.nanosecondOfDay, to: &buffer)
        case .time(let t):
            Self.writeStructHeader(tag: StructureTag.time, fieldCount: 2, to: &buffer)
            Self.writeInt(t.nanosecondOfDay, to: &buffer)
            Self.writeInt(Int64(t.offsetSeconds), to: &buffer)
        case .localDateTime(let dt):
            Self.writeStructHeader(tag: StructureTag.localDateTime, fieldCount: 2, to: &buffer)
            Self.writeInt(dt.epochSeconds, to: &buffer)
            Self.writeInt(Int64(dt.nanosecond), to: &buffer)
        case .dateTime(let dt):
            writeDateTime(dt, to: &buffer)
        case .duration(let d):
            Self.writeStructHeader(tag: StructureTag.duration, fieldCount: 4, to: &buffer)
            Self.writeInt(d.months, to: &buffer)
            Self.writeInt(d.days, to: &buffer)
            Self.writeInt(d.seconds, to: &buffer)
            Self.writeInt(Int64(d.nanoseconds), to: &buffer)
        case .point(let p):
            if let z = p.z {
                Self.writeStructHeader(tag: StructureTag.point3D, fieldCount: 4, to: &buffer)
                Self.writeInt(Int64(p.srid), to: &buffer)
                Self.writeFloat(p.x, to: &buffer)
                Self.writeFloat(p.y, to: &buffer)
                Self.writeFloat(z, to: &buffer)
            } else {
                Self.writeStructHeader(tag: StructureTag.point2D, fieldCount: 3, to: &buffer)
                Self.writeInt(Int64(p.srid), to: &buffer)
                Self.writeFloat(p.x, to: &buffer)
                Self.writeFloat(p.y, to: &buffer)
            }
        }
    }

    func writeDateTime(_ dt: CypherDateTime, to buffer: inout ByteBuffer) {
        // 5.x (and 4.4 + utc patch) send UTC epoch seconds; legacy 4.4 sends the epoch seconds of the local wall
        // clock (bolt.md §3.2).
        // Values in the supported range (all the decoder and Cypher produce) cannot wrap; wrapping rather than
        // trapping keeps a corrupt value from taking the server down.
        let seconds = options.utcDateTime ? dt.epochSeconds : dt.epochSeconds &+ Int64(dt.offsetSeconds)
        if let zone = dt.zoneId {
            let tag = options.utcDateTime ? StructureTag.dateTimeZoneId : StructureTag.legacyDateTimeZoneId
            Self.writeStructHeader(tag: tag, fieldCount: 3, to: &buffer)
            Self.writeInt(seconds, to: &buffer)
            Self.writeInt(Int64(dt.nanosecond), to: &buffer)
            Self.writeString(zone, to: &buffer)
        } else {
            let tag = options.utcDateTime ? StructureTag.dateTime : StructureTag.legacyDateTime
            Self.writeStructHeader(tag: tag, fieldCount: 3, to: &buffer)
            Self.writeInt(seconds, to: &buffer)
            Self.writeInt(Int64(dt.nanosecond), to: &buffer)
            Self.writeInt(Int64(dt.offsetSeconds), to: &buffer)
        }
    }

    func writeNode(_ node: NodeValue, to buffer: inout ByteBuffer) {
        Self.writeStructHeader(tag: StructureTag.node, fieldCount: options.elementIds ? 4 : 3, to: &buffer)
        Self.writeInt(node.id, to: &buffer)
        Self.writeListHeader(count: node.labels.count, to: &buffer)
        for label in node.labels {
            Self.writeString(label, to: &buffer)
        }
        writeMap(node.properties, to: &buffer)
        if options.elementIds {
            Self.writeString(node.elementId, to: &buffer)
        }
    }

    func writeRelationship(_ rel: RelationshipValue, to buffer: inout ByteBuffer) {
        Self.writeStructHeader(tag: StructureTag.relationship, fieldCount: options.elementIds ? 8 : 5, to: &buffer)
        Self.writeInt(rel.id, to: &buffer)
        Self.writeInt(rel.startNodeId, to: &buffer)
        Self.writeInt(rel.endNodeId, to: &buffer)
        Self.writeString(rel.type, to: &buffer)
        writeMap(rel.properties, to: &buffer)
        if options.elementIds {
            Self.writeString(rel.elementId, to: &buffer)
            Self.writeString(rel.startNodeElementId, to: &buffer)
            Self.writeString(rel.endNodeElementId, to: &buffer)
        }
    }

    func writeUnboundRelationship(_ rel: RelationshipValue, to buffer: inout ByteBuffer) {
        let fields = options.elementIds ? 4 : 3
        Self.writeStructHeader(tag: StructureTag.unboundRelationship, fieldCount: fields, to: &buffer)
        Self.writeInt(rel.id, to: &buffer)
        Self.writeString(rel.type, to: &buffer)
        writeMap(rel.properties, to: &buffer)
        if options.elementIds {
            Self.writeString(rel.elementId, to: &buffer)
        }
    }

    /// Path = distinct nodes, distinct unbound relationships, and (rel, node) index pairs: the relationship index
    /// is 1-based and negative when traversed against its direction; the node index is 0-based (bolt.md §3.1).
    func writePath(_ path: PathValue, to buffer: inout ByteBuffer) {
        var nodeIndex: [Int64: Int] = [:]
        var nodes: [NodeValue] = []
        for node in path.nodes where nodeIndex[node.id] == nil {
            nodeIndex[node.id] = nodes.count
            nodes.append(node)
        }
        var relIndex: [Int64: Int] = [:]
        var rels: [RelationshipValue] = []
        for rel in path.relationships where relIndex[rel.id] == nil {
            relIndex[rel.id] = rels.count + 1
            rels.append(rel)
        }
        Self.writeStructHeader(tag: StructureTag.path, fieldCount: 3, to: &buffer)
        Self.writeListHeader(count: nodes.count, to: &buffer)
        for node in nodes {
            writeNode(node, to: &buffer)
        }
        Self.writeListHeader(count: rels.count, to: &buffer)
        for rel in rels {
            writeUnboundRelationship(rel, to: &buffer)
        }
        Self.writeListHeader(count: path.relationships.count * 2, to: &buffer)
        for (step, rel) in path.relationships.enumerated() {
            let from = path.nodes[step]
            let to = path.nodes[step + 1]
            let index = relIndex[rel.id]!
            // Forward when the stored direction matches the walk; a self-loop counts as forward.
            let forward = rel.startNodeId == from.id && rel.endNodeId == to.id
            Self.writeInt(Int64(forward ? index : -index), to: &buffer)
            Self.writeInt(Int64(nodeIndex[to.id]!), to: &buffer)
        }
    }
}
