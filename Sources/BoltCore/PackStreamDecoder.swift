import GraphValues
import NIOCore

/// Reads PackStream values from a `ByteBuffer`, refusing anything malformed with a `PackStreamError`:
/// reserved markers, truncated data, sizes above 2^31-1 or above what the buffer could hold, invalid UTF-8,
/// non-string map keys, nesting deeper than `maxDepth`, unknown structures and wrong structure sizes.
/// It never traps on input.
public struct PackStreamDecoder: Sendable {
    public var options: PackStreamOptions
    /// Lists, maps and structures nested deeper than this are refused (bounds recursion on hostile input).
    public var maxDepth: Int
    /// Client input may not contain nodes, relationships or paths (Neo4j refuses them as parameters); tests
    /// decode them to check the encoder.
    public var allowGraphStructures: Bool

    public init(options: PackStreamOptions, maxDepth: Int = 64, allowGraphStructures: Bool = false) {
        self.options = options
        self.maxDepth = maxDepth
        self.allowGraphStructures = allowGraphStructures
    }

    /// Reads one value.
    public func readValue(from buffer: inout ByteBuffer) throws -> Value {
        try readValue(from: &buffer, depth: 0)
    }

    /// Reads a structure header: (tag, number of fields).
    public func readStructHeader(from buffer: inout ByteBuffer) throws -> (tag: UInt8, fieldCount: Int) {
        guard let (marker, tag) = buffer.readMultipleIntegers(as: (UInt8, UInt8).self) else {
            throw PackStreamError("truncated structure header")
        }
        guard marker & 0xF0 == Marker.tinyStruct else {
            throw PackStreamError("expected a structure, found marker 0x\(hex(marker))")
        }
        return (tag, Int(marker & 0x0F))
    }

    public func readString(from buffer: inout ByteBuffer) throws -> String {
        guard case .string(let s) = try readValue(from: &buffer, depth: maxDepth) else {
            throw PackStreamError("expected a string")
        }
        return s
    }

    public func readMap(from buffer: inout ByteBuffer) throws -> [String: Value] {
        guard case .map(let m) = try readValue(from: &buffer, depth: 0) else {
            throw PackStreamError("expected a map")
        }
        return m
    }

    func readValue(from buffer: inout ByteBuffer, depth: Int) throws -> Value {
        guard let marker = buffer.readInteger(as: UInt8.self) else {
            throw PackStreamError("truncated value")
        }
        switch marker {
        case 0x00...0x7F:
            return .integer(Int64(marker))
        case 0xF0...0xFF:
            return .integer(Int64(Int8(bitPattern: marker)))
        case Marker.null:
            return .null
        case Marker.falseValue:
            return .boolean(false)
        case Marker.trueValue:
            return .boolean(true)
        case Marker.float64:
            guard let bits = buffer.readInteger(as: UInt64.self) else { throw PackStreamError("truncated float") }
            return .float(Double(bitPattern: bits))
        case Marker.int8:
            guard let v = buffer.readInteger(as: Int8.self) else { throw PackStreamError("truncated integer") }
            return .integer(Int64(v))
        case Marker.int16:
            guard let v = buffer.readInteger(as: Int16.self) else { throw PackStreamError("truncated integer") }
            return .integer(Int64(v))
        case Marker.int32:
            guard let v = buffer.readInteger(as: Int32.self) else { throw PackStreamError("truncated integer") }
            return .integer(Int64(v))
        case Marker.int64:
            guard let v = buffer.readInteger(as: Int64.self) else { throw PackStreamError("truncated integer") }
            return .integer(v)
        case Marker.bytes8, Marker.bytes16, Marker.bytes32:
            let size = try readSize(marker - Marker.bytes8, from: &buffer)
            guard let bytes = buffer.readBytes(length: size) else { throw PackStreamError("truncated byte array") }
            return .bytes(bytes)
        case 0x80...0x8F:
            return .string(try readStringBody(size: Int(marker & 0x0F), from: &buffer))
        case Marker.string8, Marker.string16, Marker.string32:
            let size = try readSize(marker - Marker.string8, from: &buffer)
            return .string(try readStringBody(size: size, from: &buffer))
        case 0x90...0x9F:
            return try readList(count: Int(marker & 0x0F), from: &buffer, depth: depth)
        case Marker.list8, Marker.list16, Marker.list32:
            let count = try readSize(marker - Marker.list8, from: &buffer)
            return try readList(count: count, from: &buffer, depth: depth)
        case 0xA0...0xAF:
            return try readMapBody(count: Int(marker & 0x0F), from: &buffer, depth: depth)
        case Marker.map8, Marker.map16, Marker.map32:
            let count = try readSize(marker - Marker.map8, from: &buffer)
            return try readMapBody(count: count, from: &buffer, depth: depth)
        case 0xB0...0xBF:
            guard let tag = buffer.readInteger(as: UInt8.self) else {
                throw PackStreamError("truncated structure header")
            }
            return try readStructure(tag: tag, fieldCount: Int(marker & 0x0F), from: &buffer, depth: depth)
        default:
            throw PackStreamError("reserved PackStream marker 0x\(hex(marker))")
        }
    }

    /// Reads a u8/u16/u32 size (`width` 0, 1, 2); sizes above 2^31-1 are not allowed.
    func readSize(_ width: UInt8, from buffer: inout ByteBuffer) throws -> Int {
        let size: Int?
        switch width {
        case 0: size = buffer.readInteger(as: UInt8.self).map(Int.init)
        case 1: size = buffer.readInteger(as: UInt16.self).map(Int.init)
        default: size = buffer.readInteger(as: UInt32.self).map(Int.init)
        }
        guard let size else { throw PackStreamError("truncated size") }
        guard size <= Int(Int32.max) else { throw PackStreamError("size \(size) exceeds 2^31-1") }
        return size
    }

    func readStringBody(size: Int, from buffer: inout ByteBuffer) throws -> String {
        guard size <= buffer.readableBytes else { throw PackStreamError("truncated string") }
        // Nearly every string a driver sends is ASCII, which needs no validation beyond the high bit: decoding it
        // directly skips NIO's generic validating path (a metadata lookup per string, visible in batch parameters).
        let ascii: String? = buffer.withUnsafeReadableBytes { bytes in
            let body = UnsafeRawBufferPointer(rebasing: bytes[..<size])
            var high: UInt8 = 0
            for byte in body { high |= byte }
            return high < 0x80 ? String(decoding: body, as: UTF8.self) : nil
        }
        if let ascii {
            buffer.moveReaderIndex(forwardBy: size)
            return ascii
        }
        do {
            guard let s = try buffer.readUTF8ValidatedString(length: size) else {
                throw PackStreamError("truncated string")
            }
            return s
        } catch is ByteBuffer.ReadUTF8ValidationError {
            throw PackStreamError("string is not valid UTF-8")
        }
    }

    func readList(count: Int, from buffer: inout ByteBuffer, depth: Int) throws -> Value {
        guard depth < maxDepth else { throw PackStreamError("values nested deeper than \(maxDepth) levels") }
        // Every item takes at least one byte: a larger count cannot be honest, and must not size an allocation.
        guard count <= buffer.readableBytes else { throw PackStreamError("truncated list") }
        var items: [Value] = []
        items.reserveCapacity(count)
        for _ in 0..<count {
            items.append(try readValue(from: &buffer, depth: depth + 1))
        }
        return .list(items)
    }

    func readMapBody(count: Int, from buffer: inout ByteBuffer, depth: Int) throws -> Value {
        guard depth < maxDepth else { throw PackStreamError("values nested deeper than \(maxDepth) levels") }
        guard count <= buffer.readableBytes / 2 else { throw PackStreamError("truncated map") }
        var map: [String: Value] = [:]
        map.reserveCapacity(count)
        for _ in 0..<count {
            guard case .string(let key) = try readValue(from: &buffer, depth: depth + 1) else {
                throw PackStreamError("map keys must be strings")
            }
            // A repeated key: the last value wins (bolt.md §3).
            map[key] = try readValue(from: &buffer, depth: depth + 1)
        }
        return .map(map)
    }

    // MARK: - Structures

    func readStructure(tag: UInt8, fieldCount: Int, from buffer: inout ByteBuffer, depth: Int) throws -> Value {
        guard depth < maxDepth else { throw PackStreamError("values nested deeper than \(maxDepth) levels") }
        func expect(_ n: Int, _ name: String) throws {
            guard fieldCount == n else {
                throw PackStreamError("\(name) structure must have \(n) fields, found \(fieldCount)")
            }
        }
        func int() throws -> Int64 {
            guard case .integer(let i) = try readValue(from: &buffer, depth: depth + 1) else {
                throw PackStreamError("structure 0x\(hex(tag)): expected an integer field")
            }
            return i
        }
        func int32(_ what: String) throws -> Int32 {
            let i = try int()
            guard let v = Int32(exactly: i) else { throw PackStreamError("\(what) \(i) out of range") }
            return v
        }
        func float() throws -> Double {
            guard case .float(let d) = try readValue(from: &buffer, depth: depth + 1) else {
                throw PackStreamError("structure 0x\(hex(tag)): expected a float field")
            }
            return d
        }
        func string() throws -> String {
            guard case .string(let s) = try readValue(from: &buffer, depth: depth + 1) else {
                throw PackStreamError("structure 0x\(hex(tag)): expected a string field")
            }
            return s
        }
        func nanos() throws -> Int32 {
            let n = try int()
            guard n >= 0 && n < 1_000_000_000 else { throw PackStreamError("nanoseconds \(n) out of range") }
            return Int32(n)
        }

        // Every temporal is range-checked before any calendar or zone arithmetic touches it: a client may send
        // any Int64, and fields java.time could not represent must give a FAILURE, not overflow later.
        func checked<T>(_ value: T, _ inRange: (T) -> Bool, _ what: String) throws -> T {
            guard inRange(value) else { throw PackStreamError("\(what) out of the supported range") }
            return value
        }
        func localSeconds(_ seconds: Int64, _ n: Int32) throws -> Int64 {
            // A local wall-clock reading must be representable before an offset (±18:00) is applied to it.
            _ = try checked(CypherLocalDateTime(epochSeconds: seconds, nanosecond: n), \.isWithinSupportedRange,
                "DateTime seconds \(seconds)")
            return seconds
        }

        switch tag {
        case StructureTag.date:
            try expect(1, "Date")
            let days = try int()
            return .date(try checked(CypherDate(epochDays: days), \.isWithinSupportedRange, "Date epoch day \(days)"))
        case StructureTag.localTime:
            try expect(1, "LocalTime")
            return .localTime(CypherLocalTime(nanosecondOfDay: try dayNanos(try int())))
        case StructureTag.time:
            try expect(2, "Time")
            let n = try dayNanos(try int())
            return .time(CypherTime(nanosecondOfDay: n, offsetSeconds: try offset(try int())))
        case StructureTag.localDateTime:
            try expect(2, "LocalDateTime")
            let seconds = try int()
            let n = try nanos()
            return .localDateTime(try checked(CypherLocalDateTime(epochSeconds: seconds, nanosecond: n),
                \.isWithinSupportedRange, "LocalDateTime seconds \(seconds)"))
        case StructureTag.dateTime, StructureTag.legacyDateTime:
            try expect(3, "DateTime")
            guard (tag == StructureTag.dateTime) == options.utcDateTime else {
                throw PackStreamError("DateTime structure 0x\(hex(tag)) is not used by this protocol version")
            }
            let seconds = try int()
            let n = try nanos()
            let off = try offset(try int())
            let utc: Int64
            if tag == StructureTag.dateTime {
                // UTC seconds: the local reading (seconds + offset) is what must be in range.
                guard seconds > Int64.min / 2, seconds < Int64.max / 2 else {
                    throw PackStreamError("DateTime seconds \(seconds) out of the supported range")
                }
                _ = try localSeconds(seconds + Int64(off), n)
                utc = seconds
            } else {
                utc = try localSeconds(seconds, n) - Int64(off)
            }
            return .dateTime(try checked(
                CypherDateTime(epochSeconds: utc, nanosecond: n, offsetSeconds: off, zoneId: nil),
                \.isWithinSupportedRange, "DateTime seconds \(seconds)"))
        case StructureTag.dateTimeZoneId, StructureTag.legacyDateTimeZoneId:
            try expect(3, "DateTimeZoneId")
            guard (tag == StructureTag.dateTimeZoneId) == options.utcDateTime else {
                throw PackStreamError("DateTime structure 0x\(hex(tag)) is not used by this protocol version")
            }
            let seconds = try localSeconds(try int(), 0)
            let n = try nanos()
            let zoneName = try string()
            // The tz database Cypher uses (not Foundation's), so Bolt and Cypher agree on every offset.
            guard let zone = try? CypherTimeZone.parse(zoneName) else {
                throw PackStreamError("unknown time zone '\(zoneName)'")
            }
            let dt: CypherDateTime
            if tag == StructureTag.dateTimeZoneId {
                dt = zone.dateTime(epochSecond: seconds, nanosecond: n)
            } else {
                // Legacy: seconds are the local wall clock; the zone's rules resolve the offset in force then.
                dt = zone.dateTime(localEpochSecond: seconds, nanosecond: n)
            }
            var value = dt
            if case .offset = zone { value.zoneId = zoneName }
            return .dateTime(try checked(value, \.isWithinSupportedRange, "DateTime seconds \(seconds)"))
        case StructureTag.duration:
            try expect(4, "Duration")
            let months = try int()
            let days = try int()
            let seconds = try int()
            let n = try int32("duration nanoseconds")
            return .duration(CypherDuration(months: months, days: days, seconds: seconds, nanoseconds: n))
        case StructureTag.point2D:
            try expect(3, "Point2D")
            let srid = try int32("srid")
            return .point(CypherPoint(srid: srid, x: try float(), y: try float()))
        case StructureTag.point3D:
            try expect(4, "Point3D")
            let srid = try int32("srid")
            return .point(CypherPoint(srid: srid, x: try float(), y: try float(), z: try float()))
        case StructureTag.node, StructureTag.relationship, StructureTag.unboundRelationship, StructureTag.path:
            guard allowGraphStructures else {
                throw PackStreamError("nodes, relationships and paths cannot be sent as parameters")
            }
            return try readGraphStructure(tag: tag, fieldCount: fieldCount, from: &buffer, depth: depth)
        default:
            throw PackStreamError("unknown structure tag 0x\(hex(tag))")
        }
    }

    func dayNanos(_ n: Int64) throws -> Int64 {
        guard n >= 0 && n < 86_400_000_000_000 else { throw PackStreamError("time of day \(n) ns out of range") }
        return n
    }

    func offset(_ seconds: Int64) throws -> Int32 {
        // ±18:00 is the widest offset Neo4j accepts.
        // Compared without abs(): abs(Int64.min) traps.
        guard seconds >= -18 * 3600 && seconds <= 18 * 3600 else {
            throw PackStreamError("UTC offset \(seconds) s out of range")
        }
        return Int32(seconds)
    }

    func readGraphStructure(tag: UInt8, fieldCount: Int, from buffer: inout ByteBuffer, depth: Int) throws -> Value {
        var fields: [Value] = []
        guard fieldCount <= buffer.readableBytes else { throw PackStreamError("truncated structure") }
        for _ in 0..<fieldCount {
            fields.append(try readValue(from: &buffer, depth: depth + 1))
        }
        let extra = options.elementIds
        func bad(_ name: String) -> PackStreamError { PackStreamError("malformed \(name) structure") }
        switch tag {
        case StructureTag.node:
            guard fields.count == (extra ? 4 : 3), case .integer(let id) = fields[0], case .list(let ls) = fields[1],
                case .map(let props) = fields[2]
            else { throw bad("Node") }
            var labels: [String] = []
            for l in ls {
                guard case .string(let s) = l else { throw bad("Node") }
                labels.append(s)
            }
            return .node(NodeValue(id: id, labels: labels, properties: props))
        case StructureTag.relationship:
            guard fields.count == (extra ? 8 : 5), case .integer(let id) = fields[0],
                case .integer(let start) = fields[1], case .integer(let end) = fields[2],
                case .string(let type) = fields[3], case .map(let props) = fields[4]
            else { throw bad("Relationship") }
            return .relationship(
                RelationshipValue(id: id, startNodeId: start, endNodeId: end, type: type, properties: props))
        case StructureTag.unboundRelationship:
            guard fields.count == (extra ? 4 : 3), case .integer(let id) = fields[0],
                case .string(let type) = fields[1], case .map(let props) = fields[2]
            else { throw bad("UnboundRelationship") }
            // Unbound: the ends are filled in by the path that holds it.
            return .relationship(RelationshipValue(id: id, startNodeId: -1, endNodeId: -1, type: type,
                properties: props))
        default:
            guard fields.count == 3, case .list(let ns) = fields[0], case .list(let rs) = fields[1],
                case .list(let idx) = fields[2], idx.count % 2 == 0, !ns.isEmpty
            else { throw bad("Path") }
            var nodes: [NodeValue] = []
            for n in ns {
                guard case .node(let node) = n else { throw bad("Path") }
                nodes.append(node)
            }
            var rels: [RelationshipValue] = []
            for r in rs {
                guard case .relationship(let rel) = r else { throw bad("Path") }
                rels.append(rel)
            }
            var pathNodes = [nodes[0]]
            var pathRels: [RelationshipValue] = []
            var i = 0
            while i < idx.count {
                guard case .integer(let ri) = idx[i], case .integer(let ni) = idx[i + 1], ri != 0,
                    Int(ri.magnitude) <= rels.count, ni >= 0, Int(ni) < nodes.count
                else { throw bad("Path") }
                let prev = pathNodes[pathNodes.count - 1]
                let next = nodes[Int(ni)]
                var rel = rels[Int(ri.magnitude) - 1]
                (rel.startNodeId, rel.endNodeId) = ri > 0 ? (prev.id, next.id) : (next.id, prev.id)
                pathRels.append(rel)
                pathNodes.append(next)
                i += 2
            }
            return .path(PathValue(nodes: pathNodes, relationships: pathRels))
        }
    }
}

@inline(__always)
func hex(_ byte: UInt8) -> String {
    let s = String(byte, radix: 16, uppercase: true)
    return byte < 16 ? "0" + s : s
}
