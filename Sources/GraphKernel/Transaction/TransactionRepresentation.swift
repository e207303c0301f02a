import GraphValues

/// What a committed transaction is, in the form written to the transaction log and shipped to other cluster
/// members: the physical after-images of every record it changed (idempotent redo), plus the logical facts the
/// derived structures (label scan, indexes, counts) need, plus the full schema when it changed.
struct TransactionRepresentation: Equatable, Sendable {
    /// Flags of an affected node.
    struct NodeChange: Equatable, Sendable {
        static let labels: UInt8 = 1
        static let properties: UInt8 = 2
        static let created: UInt8 = 4
        static let deleted: UInt8 = 8
        var id: Int64
        var flags: UInt8
    }

    static let formatVersion: UInt8 = 1

    var records: [RecordCommand] = []
    var nodeChanges: [NodeChange] = []
    /// Relationships created or deleted (their counts contributions change).
    var relationshipChanges: [Int64] = []
    /// The whole schema after this transaction, when it changed.
    var schema: SchemaRules?

    func serialize() -> [UInt8] {
        var out: [UInt8] = [Self.formatVersion]
        out.reserveCapacity(16 + records.count * 80)
        appendInt32(&out, Int32(records.count))
        for command in records {
            out.append(command.kind.rawValue)
            appendInt64(&out, command.id)
            appendInt32(&out, Int32(command.after.count))
            out.append(contentsOf: command.after)
        }
        appendInt32(&out, Int32(nodeChanges.count))
        for change in nodeChanges {
            appendInt64(&out, change.id)
            out.append(change.flags)
        }
        appendInt32(&out, Int32(relationshipChanges.count))
        for id in relationshipChanges { appendInt64(&out, id) }
        if let schema {
            out.append(1)
            let blob = schema.serialize()
            appendInt32(&out, Int32(blob.count))
            out.append(contentsOf: blob)
        } else {
            out.append(0)
        }
        return out
    }

    static func deserialize(_ bytes: [UInt8]) throws -> TransactionRepresentation {
        var r = ByteReader(bytes: bytes)
        let version = try r.byte()
        guard version == formatVersion else {
            throw DatabaseError(
                .storageDamageDetected, "Transaction format version \(version) is not supported (expected \(formatVersion))")
        }
        var tx = TransactionRepresentation()
        let recordCount = Int(try r.int32())
        guard recordCount >= 0 && recordCount <= r.remaining else { throw r.damaged("bad record count") }
        tx.records.reserveCapacity(recordCount)
        for _ in 0..<recordCount {
            guard let kind = StoreKind(rawValue: try r.byte()) else { throw r.damaged("unknown store kind") }
            let id = try r.int64()
            let length = Int(try r.int32())
            guard length == kind.recordSize, id >= 0 else { throw r.damaged("bad \(kind.recordName) command") }
            tx.records.append(RecordCommand(kind: kind, id: id, after: try r.bytes(length)))
        }
        let nodeCount = Int(try r.int32())
        guard nodeCount >= 0 && nodeCount <= r.remaining else { throw r.damaged("bad node change count") }
        for _ in 0..<nodeCount { tx.nodeChanges.append(NodeChange(id: try r.int64(), flags: try r.byte())) }
        let relCount = Int(try r.int32())
        guard relCount >= 0 && relCount <= r.remaining else { throw r.damaged("bad relationship change count") }
        for _ in 0..<relCount { tx.relationshipChanges.append(try r.int64()) }
        if try r.byte() == 1 {
            let length = Int(try r.int32())
            tx.schema = try SchemaRules.deserialize(try r.bytes(length))
        }
        return tx
    }
}

/// The schema: indexes and uniqueness constraints (each constraint is backed by the unique index of its name).
struct SchemaRules: Equatable, Sendable {
    var indexes: [IndexDescriptor] = []
    var constraints: [ConstraintDescriptor] = []

    static let fileName = "neostore.schemastore.db"

    func serialize() -> [UInt8] {
        var out: [UInt8] = []
        func string(_ s: String) {
            let utf8 = Array(s.utf8)
            appendInt32(&out, Int32(utf8.count))
            out.append(contentsOf: utf8)
        }
        appendInt32(&out, Int32(indexes.count))
        for index in indexes {
            string(index.name)
            appendInt32(&out, index.label)
            appendInt32(&out, index.propertyKey)
            out.append(index.isUnique ? 1 : 0)
        }
        appendInt32(&out, Int32(constraints.count))
        for constraint in constraints {
            string(constraint.name)
            appendInt32(&out, constraint.label)
            appendInt32(&out, constraint.propertyKey)
        }
        return out
    }

    static func deserialize(_ bytes: [UInt8]) throws -> SchemaRules {
        var r = ByteReader(bytes: bytes)
        func string() throws -> String { String(decoding: try r.bytes(Int(try r.int32())), as: UTF8.self) }
        var rules = SchemaRules()
        let indexCount = Int(try r.int32())
        guard indexCount >= 0 && indexCount <= r.remaining else { throw r.damaged("bad index count") }
        for _ in 0..<indexCount {
            let name = try string()
            let label = try r.int32()
            let key = try r.int32()
            let unique = try r.byte() == 1
            rules.indexes.append(IndexDescriptor(name: name, label: label, propertyKey: key, isUnique: unique, state: .online))
        }
        let constraintCount = Int(try r.int32())
        guard constraintCount >= 0 && constraintCount <= r.remaining else { throw r.damaged("bad constraint count") }
        for _ in 0..<constraintCount {
            let name = try string()
            rules.constraints.append(ConstraintDescriptor(name: name, label: try r.int32(), propertyKey: try r.int32()))
        }
        return rules
    }
}
