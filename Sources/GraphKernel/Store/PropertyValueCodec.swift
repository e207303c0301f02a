import GraphValues

/// How a property value is laid out: inline in a property block when it fits in 8 bytes, otherwise as bytes in
/// a chain of dynamic records. The dynamic encoding is a tag byte followed by fixed fields (see docs/storage.md).
enum PropertyValueCodec {
    enum Tag: UInt8 {
        case bytes = 1, list = 2, time = 3, localDateTime = 4, dateTime = 5, duration = 6, point = 7
        case date = 8, localTime = 9, boolean = 10, integer = 11, float = 12, string = 13
    }

    /// The block fields for `value`, and the bytes to store in dynamic records when it does not fit inline
    /// (the caller puts the first dynamic record id into the payload).
    static func encode(_ value: Value) throws -> (type: PropertyType, inlineLength: UInt8, payload: Int64, dynamic: [UInt8]?) {
        switch value {
        case .boolean(let b): return (.boolean, 0, b ? 1 : 0, nil)
        case .integer(let i): return (.integer, 0, i, nil)
        case .float(let d): return (.float, 0, Int64(bitPattern: d.bitPattern), nil)
        case .date(let d): return (.date, 0, d.epochDays, nil)
        case .localTime(let t): return (.localTime, 0, t.nanosecondOfDay, nil)
        case .string(let s):
            // A short string is packed straight from the UTF-8 view: no byte array allocated for it.
            let utf8 = s.utf8
            if utf8.count <= 8 {
                var payload: UInt64 = 0
                var shift: UInt64 = 0
                for byte in utf8 {
                    payload |= UInt64(byte) << shift
                    shift += 8
                }
                return (.shortString, UInt8(utf8.count), Int64(bitPattern: payload), nil)
            }
            return (.string, 0, noID, Array(utf8))
        case .bytes, .list, .time, .localDateTime, .dateTime, .duration, .point:
            guard value.isStorableProperty else { throw unstorable(value) }
            var bytes: [UInt8] = []
            encodeTagged(value, into: &bytes)
            return (.encoded, 0, noID, bytes)
        case .null, .map, .node, .relationship, .path:
            throw unstorable(value)
        }
    }

    static func unstorable(_ value: Value) -> DatabaseError {
        DatabaseError(
            .typeError,
            "Property values can only be of primitive types or arrays thereof; got \(describeKind(value))")
    }

    static func describeKind(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .map: return "a map"
        case .node: return "a node"
        case .relationship: return "a relationship"
        case .path: return "a path"
        case .list: return "a list that is not homogeneous or holds non-storable values"
        default: return "an unsupported value"
        }
    }

    /// Decodes an inline block; `dynamic` supplies the bytes of a dynamic chain for non-inline types.
    static func decode(_ block: PropertyBlock, dynamic: (Int64) throws -> [UInt8]) throws -> Value {
        switch block.type {
        case .boolean: return .boolean(block.payload != 0)
        case .integer: return .integer(block.payload)
        case .float: return .float(Double(bitPattern: UInt64(bitPattern: block.payload)))
        case .date: return .date(CypherDate(epochDays: block.payload))
        case .localTime: return .localTime(CypherLocalTime(nanosecondOfDay: block.payload))
        case .shortString:
            return .string(shortString(payload: block.payload, length: block.inlineLength))
        case .string:
            return .string(String(decoding: try dynamic(block.payload), as: UTF8.self))
        case .encoded:
            let bytes = try dynamic(block.payload)
            var reader = ByteReader(bytes: bytes)
            return try decodeTagged(&reader)
        }
    }

    /// The inline string of a short-string block: byte `i` is bits `8i..<8i+8` of the payload (see `encode`).
    /// The bytes are read in place from the little-endian payload, so the (small, allocation-free) `String` is
    /// built without a temporary array; this runs once per string property read, e.g. per row of a grouping.
    /// Invalid UTF-8 is repaired as before; a length above 8 (damage) is clamped as before.
    static func shortString(payload: Int64, length: UInt8) -> String {
        RawProperty.shortString(bits: UInt64(bitPattern: payload), length: length)
    }

    // MARK: Tagged encoding

    static func encodeTagged(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .bytes(let b):
            out.append(Tag.bytes.rawValue)
            appendInt32(&out, Int32(b.count))
            out.append(contentsOf: b)
        case .list(let items):
            out.append(Tag.list.rawValue)
            appendInt32(&out, Int32(items.count))
            for item in items { encodeTagged(item, into: &out) }
        case .time(let t):
            out.append(Tag.time.rawValue)
            appendInt64(&out, t.nanosecondOfDay)
            appendInt32(&out, t.offsetSeconds)
        case .localDateTime(let t):
            out.append(Tag.localDateTime.rawValue)
            appendInt64(&out, t.epochSeconds)
            appendInt32(&out, t.nanosecond)
        case .dateTime(let t):
            out.append(Tag.dateTime.rawValue)
            appendInt64(&out, t.epochSeconds)
            appendInt32(&out, t.nanosecond)
            appendInt32(&out, t.offsetSeconds)
            if let zone = t.zoneId {
                let utf8 = Array(zone.utf8)
                appendInt32(&out, Int32(utf8.count))
                out.append(contentsOf: utf8)
            } else {
                appendInt32(&out, -1)
            }
        case .duration(let d):
            out.append(Tag.duration.rawValue)
            appendInt64(&out, d.months)
            appendInt64(&out, d.days)
            appendInt64(&out, d.seconds)
            appendInt32(&out, d.nanoseconds)
        case .point(let p):
            out.append(Tag.point.rawValue)
            appendInt32(&out, p.srid)
            out.append(p.z == nil ? 0 : 1)
            appendInt64(&out, Int64(bitPattern: p.x.bitPattern))
            appendInt64(&out, Int64(bitPattern: p.y.bitPattern))
            appendInt64(&out, Int64(bitPattern: (p.z ?? 0).bitPattern))
        case .date(let d):
            out.append(Tag.date.rawValue)
            appendInt64(&out, d.epochDays)
        case .localTime(let t):
            out.append(Tag.localTime.rawValue)
            appendInt64(&out, t.nanosecondOfDay)
        case .boolean(let b):
            out.append(Tag.boolean.rawValue)
            out.append(b ? 1 : 0)
        case .integer(let i):
            out.append(Tag.integer.rawValue)
            appendInt64(&out, i)
        case .float(let d):
            out.append(Tag.float.rawValue)
            appendInt64(&out, Int64(bitPattern: d.bitPattern))
        case .string(let s):
            let utf8 = Array(s.utf8)
            out.append(Tag.string.rawValue)
            appendInt32(&out, Int32(utf8.count))
            out.append(contentsOf: utf8)
        case .null, .map, .node, .relationship, .path:
            preconditionFailure("encodeTagged of a non-storable value; callers check isStorableProperty first")
        }
    }

    static func decodeTagged(_ r: inout ByteReader) throws -> Value {
        guard let tag = Tag(rawValue: try r.byte()) else { throw r.damaged("unknown value tag") }
        switch tag {
        case .bytes: return .bytes(try r.bytes(Int(try r.int32())))
        case .list:
            let count = Int(try r.int32())
            guard count >= 0 && count <= r.remaining else { throw r.damaged("bad list length") }
            var items: [Value] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try decodeTagged(&r)) }
            return .list(items)
        case .time: return .time(CypherTime(nanosecondOfDay: try r.int64(), offsetSeconds: try r.int32()))
        case .localDateTime:
            return .localDateTime(CypherLocalDateTime(epochSeconds: try r.int64(), nanosecond: try r.int32()))
        case .dateTime:
            let seconds = try r.int64()
            let nanos = try r.int32()
            let offset = try r.int32()
            let zoneLength = Int(try r.int32())
            let zone = zoneLength < 0 ? nil : try r.string(zoneLength)
            return .dateTime(CypherDateTime(epochSeconds: seconds, nanosecond: nanos, offsetSeconds: offset, zoneId: zone))
        case .duration:
            return .duration(
                CypherDuration(months: try r.int64(), days: try r.int64(), seconds: try r.int64(), nanoseconds: try r.int32()))
        case .point:
            let srid = try r.int32()
            let hasZ = try r.byte() != 0
            let x = Double(bitPattern: UInt64(bitPattern: try r.int64()))
            let y = Double(bitPattern: UInt64(bitPattern: try r.int64()))
            let z = Double(bitPattern: UInt64(bitPattern: try r.int64()))
            return .point(CypherPoint(srid: srid, x: x, y: y, z: hasZ ? z : nil))
        case .date: return .date(CypherDate(epochDays: try r.int64()))
        case .localTime: return .localTime(CypherLocalTime(nanosecondOfDay: try r.int64()))
        case .boolean: return .boolean(try r.byte() != 0)
        case .integer: return .integer(try r.int64())
        case .float: return .float(Double(bitPattern: UInt64(bitPattern: try r.int64())))
        case .string: return .string(try r.string(Int(try r.int32())))
        }
    }
}

/// A bounds-checked cursor over bytes; running off the end is reported as storage damage, never a crash.
struct ByteReader {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    func damaged(_ what: String) -> DatabaseError {
        DatabaseError(.storageDamageDetected, "Corrupt encoded data: \(what) at byte \(position) of \(bytes.count)")
    }

    mutating func byte() throws -> UInt8 {
        guard remaining >= 1 else { throw damaged("truncated") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func int32() throws -> Int32 {
        guard remaining >= 4 else { throw damaged("truncated") }
        defer { position += 4 }
        return readInt32(bytes, position)
    }

    mutating func int64() throws -> Int64 {
        guard remaining >= 8 else { throw damaged("truncated") }
        defer { position += 8 }
        return readInt64(bytes, position)
    }

    mutating func bytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, remaining >= count else { throw damaged("truncated") }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    /// `count` bytes as UTF-8 (repaired like `String(decoding:as:)`), decoded in place without copying them out.
    mutating func string(_ count: Int) throws -> String {
        guard count >= 0, remaining >= count else { throw damaged("truncated") }
        defer { position += count }
        return bytes.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[position..<position + count]), as: UTF8.self)
        }
    }
}
