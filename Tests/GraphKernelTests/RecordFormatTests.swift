import GraphValues
import Testing

@testable import GraphKernel

@Suite("Record formats")
struct RecordFormatTests {
    func roundTrip<R: Equatable>(
        _ size: Int, _ record: R, encode: (R, UnsafeMutableRawPointer) -> Void,
        decode: (UnsafeMutableRawPointer) -> R
    ) -> R {
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { p.deallocate() }
        p.initializeMemory(as: UInt8.self, repeating: 0xAB, count: size)
        encode(record, p)
        return decode(p)
    }

    @Test("node record with inline labels and with label overflow round-trips")
    func nodeRecord() {
        var node = NodeRecord()
        node.inUse = true
        node.dense = true
        node.nextRel = 123_456_789_012
        node.nextProp = 42
        node.setInlineLabels([1, 7, 300])
        #expect(roundTrip(NodeRecord.size, node, encode: { $0.encode(to: $1) }, decode: NodeRecord.init(from:)) == node)
        node.labelCount = NodeRecord.overflowMarker
        node.labelOverflow = 99
        node.label0 = 0
        node.label1 = 0
        node.label2 = 0
        #expect(roundTrip(NodeRecord.size, node, encode: { $0.encode(to: $1) }, decode: NodeRecord.init(from:)) == node)
    }

    @Test("relationship record keeps both chains and first-in-chain flags")
    func relationshipRecord() {
        var rel = RelationshipRecord()
        rel.inUse = true
        rel.firstInStartChain = true
        rel.firstInEndChain = false
        rel.type = 5
        rel.startNode = 1
        rel.endNode = 2
        rel.startPrev = -1
        rel.startNext = 10
        rel.endPrev = 11
        rel.endNext = 12
        rel.nextProp = 13
        let decoded = roundTrip(
            RelationshipRecord.size, rel, encode: { $0.encode(to: $1) }, decode: RelationshipRecord.init(from:))
        #expect(decoded == rel)
        #expect(decoded.next(for: 1) == 10)
        #expect(decoded.next(for: 2) == 12)
        #expect(decoded.prev(for: 2) == 11)
    }

    @Test("group, property, dynamic and token records round-trip")
    func otherRecords() {
        var group = RelationshipGroupRecord()
        group.inUse = true
        group.type = 3
        group.next = 4
        group.firstOut = 5
        group.firstIn = 6
        group.firstLoop = -1
        group.owner = 8
        #expect(
            roundTrip(
                RelationshipGroupRecord.size, group, encode: { $0.encode(to: $1) },
                decode: RelationshipGroupRecord.init(from:)) == group)

        var prop = PropertyRecord()
        prop.inUse = true
        prop.next = 77
        prop.blocks = [
            PropertyBlock(key: 1, type: .integer, inlineLength: 0, payload: -5),
            PropertyBlock(key: 2, type: .shortString, inlineLength: 3, payload: 0x636261),
        ]
        #expect(
            roundTrip(PropertyRecord.size, prop, encode: { $0.encode(to: $1) }, decode: PropertyRecord.init(from:))
                == prop)

        var dynamic = DynamicRecord()
        dynamic.inUse = true
        dynamic.isStart = true
        dynamic.next = 9
        dynamic.data = Array(0..<100)
        let size = DynamicRecord.valueRecordSize
        #expect(
            roundTrip(
                size, dynamic, encode: { $0.encode(to: $1, recordSize: size) },
                decode: { DynamicRecord(from: $0, recordSize: size) }) == dynamic)

        var token = TokenRecord()
        token.inUse = true
        token.nameRecord = 3
        #expect(
            roundTrip(TokenRecord.size, token, encode: { $0.encode(to: $1) }, decode: TokenRecord.init(from:)) == token)
    }

    @Test("property values of every storable kind round-trip through the codec")
    func valueCodec() throws {
        let values: [Value] = [
            .boolean(true), .integer(Int64.min), .float(-2.5), .string(""), .string("short"),
            .string("a string that is much longer than eight bytes ✓"), .bytes([0, 1, 255]),
            .list([.integer(1), .integer(2)]), .list([]), .list([.string("x"), .string("yy")]),
            .date(CypherDate(epochDays: 19_000)), .localTime(CypherLocalTime(nanosecondOfDay: 5)),
            .time(CypherTime(nanosecondOfDay: 7, offsetSeconds: -3600)),
            .localDateTime(CypherLocalDateTime(epochSeconds: 1_700_000_000, nanosecond: 9)),
            .dateTime(CypherDateTime(epochSeconds: 1, nanosecond: 2, offsetSeconds: 3600, zoneId: "Europe/Paris")),
            .dateTime(CypherDateTime(epochSeconds: 1, nanosecond: 2, offsetSeconds: 0, zoneId: nil)),
            .duration(CypherDuration(months: 1, days: 2, seconds: 3, nanoseconds: 4)),
            .point(CypherPoint(srid: 7203, x: 1.5, y: 2.5)), .point(CypherPoint(srid: 4979, x: 1, y: 2, z: 3)),
        ]
        for value in values {
            let encoded = try PropertyValueCodec.encode(value)
            let block = PropertyBlock(
                key: 1, type: encoded.type, inlineLength: encoded.inlineLength, payload: encoded.payload)
            let decoded = try PropertyValueCodec.decode(block) { _ in encoded.dynamic ?? [] }
            #expect(decoded == value)
        }
    }

    @Test("non-storable values are refused with a TypeError")
    func unstorable() {
        for value: Value in [.map([:]), .list([.integer(1), .string("x")]), .list([.list([])])] {
            expectError(.typeError) { _ = try PropertyValueCodec.encode(value) }
        }
    }

    @Test("a transaction's serialized form round-trips")
    func transactionRoundTrip() throws {
        var tx = TransactionRepresentation()
        tx.records = [RecordCommand(kind: .node, id: 3, after: Array(repeating: 1, count: NodeRecord.size))]
        tx.nodeChanges = [.init(id: 3, flags: 5)]
        tx.relationshipChanges = [7, 8]
        tx.schema = SchemaRules(
            indexes: [IndexDescriptor(name: "i", label: 1, propertyKey: 2, isUnique: false, state: .online)],
            constraints: [ConstraintDescriptor(name: "c", label: 3, propertyKey: 4)])
        #expect(try TransactionRepresentation.deserialize(tx.serialize()) == tx)
        var damaged = tx.serialize()
        damaged.removeLast(3)
        expectError(.storageDamageDetected) { _ = try TransactionRepresentation.deserialize(damaged) }
    }
}
