import GraphValues

/// One problem found by the consistency checker.
public struct Inconsistency: Sendable, Hashable, CustomStringConvertible {
    /// "node", "relationship", "relationship group", "property", "label scan", "index", "counts", …
    public var recordType: String
    public var id: Int64
    public var message: String

    public init(recordType: String, id: Int64, message: String) {
        self.recordType = recordType
        self.id = id
        self.message = message
    }

    public var description: String { "\(recordType)[\(id)]: \(message)" }
}

/// The outcome of a consistency check.
public struct ConsistencyReport: Sendable, CustomStringConvertible {
    public var inconsistencies: [Inconsistency] = []
    /// Records checked per store, for the summary.
    public var recordsChecked: Int64 = 0

    public var isConsistent: Bool { inconsistencies.isEmpty }

    public var description: String {
        if isConsistent { return "Consistency check passed: \(recordsChecked) records, no inconsistencies" }
        return "Consistency check found \(inconsistencies.count) inconsistencies:\n"
            + inconsistencies.prefix(100).map { "  " + $0.description }.joined(separator: "\n")
    }
}

/// Verifies a store: node and relationship chains (both ends, prev/next agreement, first-in-chain flags,
/// relationship groups of dense nodes), tokens, labels, property chains, dynamic record chains, and the label
/// scan store, indexes and counts against what the records say.
///
/// `init(directory:)` opens the store (running recovery first, as any open does) and closes it afterwards;
/// `init(database:)` checks an open database, holding its commit lock so the store does not change meanwhile.
public final class ConsistencyChecker {
    private let directory: String?
    private let configuration: KernelConfiguration
    private var database: GraphDatabase?

    private var report = ConsistencyReport()
    /// How many times each relationship was reached from each end's chain.
    private var startVisits: [UInt8] = []
    private var endVisits: [UInt8] = []
    private var propertyOwners: [UInt8] = []
    private var dynamicOwners: [StoreKind: [UInt8]] = [:]

    public init(directory: String, configuration: KernelConfiguration = KernelConfiguration()) {
        self.directory = directory
        self.configuration = configuration
    }

    public init(database: GraphDatabase) {
        self.directory = nil
        self.configuration = database.configuration
        self.database = database
    }

    public func check() throws -> ConsistencyReport {
        report = ConsistencyReport()
        if let database {
            try database.commitMutex.withLock {
                try database.storeRW.withReadLock { try run(database) }
            }
            return report
        }
        var config = configuration
        if config.pageCacheSizeBytes == nil { config.pageCacheSizeBytes = 64 << 20 }
        let db = try GraphDatabase(directory: directory!, configuration: config)
        defer { try? db.close() }
        try db.commitMutex.withLock { try db.storeRW.withReadLock { try run(db) } }
        return report
    }

    private func problem(_ kind: StoreKind, _ id: Int64, _ message: String) {
        report.inconsistencies.append(Inconsistency(recordType: kind.recordName, id: id, message: message))
    }

    private func problem(_ type: String, _ id: Int64, _ message: String) {
        report.inconsistencies.append(Inconsistency(recordType: type, id: id, message: message))
    }

    // MARK: -

    private func run(_ db: GraphDatabase) throws {
        let stores = db.stores
        startVisits = [UInt8](repeating: 0, count: Int(stores.relationships.highID))
        endVisits = startVisits
        propertyOwners = [UInt8](repeating: 0, count: Int(stores.properties.highID))
        for kind in [StoreKind.propertyValue, .nodeLabels, .labelTokenName, .relationshipTypeTokenName,
                     .propertyKeyTokenName] {
            dynamicOwners[kind] = [UInt8](repeating: 0, count: Int(stores.store(kind).highID))
        }
        try checkTokens(stores)
        var labelsOf: [Int64: [Int32]] = [:]
        var counts: [CountsKey: Int] = [:]
        var scan = LabelScanStore()
        for id in 0..<stores.nodes.highID {
            report.recordsChecked += 1
            let node = try stores.node(id)
            guard node.inUse else { continue }
            let labels = checkLabels(stores, id, node)
            labelsOf[id] = labels
            CountsContribution.node(labels: labels, sign: 1, into: &counts)
            for label in labels { scan.add(label, id) }
            checkPropertyChain(stores, .node, id, node.nextProp)
            if node.dense {
                checkGroups(stores, id, node.nextRel)
            } else {
                checkChain(stores, id, node.nextRel, expectedType: nil, chain: nil)
            }
        }
        for id in 0..<stores.relationships.highID {
            report.recordsChecked += 1
            guard let rel = try? stores.relationship(id), rel.inUse else { continue }
            if stores.relationshipTypeTokens.name(of: rel.type) == nil {
                problem(.relationship, id, "type \(rel.type) is not a relationship type token")
            }
            let startOK = (try? stores.nodeInUse(rel.startNode)) == true
            let endOK = (try? stores.nodeInUse(rel.endNode)) == true
            if !startOK { problem(.relationship, id, "start node \(rel.startNode) is not in use") }
            if !endOK { problem(.relationship, id, "end node \(rel.endNode) is not in use") }
            if startOK && startVisits[Int(id)] != 1 {
                problem(
                    .relationship, id,
                    "reached \(startVisits[Int(id)]) times from start node \(rel.startNode)'s chain (expected once)")
            }
            if rel.startNode != rel.endNode && endOK && endVisits[Int(id)] != 1 {
                problem(
                    .relationship, id,
                    "reached \(endVisits[Int(id)]) times from end node \(rel.endNode)'s chain (expected once)")
            }
            checkPropertyChain(stores, .relationship, id, rel.nextProp)
            if startOK && endOK {
                CountsContribution.relationship(
                    type: rel.type, startLabels: labelsOf[rel.startNode] ?? [], endLabels: labelsOf[rel.endNode] ?? [],
                    sign: 1, into: &counts)
            }
        }
        checkOrphans(stores)
        checkDerived(db, labelsOf: labelsOf, counts: counts, scan: scan)
    }

    private func checkTokens(_ stores: NeoStores) throws {
        for kind in [TokenKind.label, .relationshipType, .propertyKey] {
            let (tokenKind, nameKind) = NeoStores.tokenKinds(kind)
            let store = stores.store(tokenKind)
            var seen: [String: Int64] = [:]
            for id in 0..<store.highID {
                report.recordsChecked += 1
                guard let record = try? store.withRecord(id, { TokenRecord(from: $0) }), record.inUse else { continue }
                guard let bytes = readDynamic(stores, nameKind, record.nameRecord, owner: (tokenKind, id)) else { continue }
                let name = String(decoding: bytes, as: UTF8.self)
                if let other = seen[name] { problem(tokenKind, id, "name '\(name)' is also used by token \(other)") }
                seen[name] = id
                if stores.tokens(kind).name(of: Int32(id)) != name {
                    problem(tokenKind, id, "cached name differs from the stored name '\(name)'")
                }
            }
        }
    }

    /// Reads a dynamic chain, reporting broken links; marks each record as owned.
    private func readDynamic(_ stores: NeoStores, _ kind: StoreKind, _ first: Int64, owner: (StoreKind, Int64))
        -> [UInt8]?
    {
        let store = stores.store(kind)
        var out: [UInt8] = []
        var id = first
        var isFirst = true
        while id != noID {
            guard id >= 0 && id < store.highID else {
                problem(owner.0, owner.1, "\(kind.recordName) chain points to record \(id) beyond the store end")
                return nil
            }
            guard let record = try? store.withRecord(id, { DynamicRecord(from: $0, recordSize: store.recordSize) }) else {
                problem(owner.0, owner.1, "cannot read \(kind.recordName) record \(id)")
                return nil
            }
            if !record.inUse {
                problem(owner.0, owner.1, "\(kind.recordName) record \(id) in its chain is not in use")
                return nil
            }
            if record.isStart != isFirst {
                problem(kind, id, isFirst ? "first record of a chain lacks the start flag" : "start flag inside a chain")
            }
            if dynamicOwners[kind]![Int(id)] > 0 {
                problem(kind, id, "record is used by more than one chain (again by \(owner.0.recordName) \(owner.1))")
                return nil
            }
            dynamicOwners[kind]![Int(id)] += 1
            out.append(contentsOf: record.data)
            id = record.next
            isFirst = false
        }
        return out
    }

    private func checkLabels(_ stores: NeoStores, _ id: Int64, _ node: NodeRecord) -> [Int32] {
        var labels: [Int32]
        if node.labelOverflow != noID {
            guard let bytes = readDynamic(stores, .nodeLabels, node.labelOverflow, owner: (.node, id)) else { return [] }
            if bytes.count % 4 != 0 { problem(.node, id, "label overflow holds \(bytes.count) bytes, not whole tokens") }
            labels = (0..<(bytes.count / 4)).map { readInt32(bytes, $0 * 4) }
        } else {
            if node.labelCount > UInt8(NodeRecord.maxInlineLabels) {
                problem(.node, id, "inline label count \(node.labelCount) exceeds \(NodeRecord.maxInlineLabels)")
                return []
            }
            labels = node.inlineLabels
        }
        if Set(labels).count != labels.count { problem(.node, id, "duplicate labels \(labels)") }
        for label in labels where stores.labelTokens.name(of: label) == nil {
            problem(.node, id, "label \(label) is not a label token")
        }
        return labels
    }

    private func checkPropertyChain(_ stores: NeoStores, _ ownerKind: StoreKind, _ owner: Int64, _ first: Int64) {
        var id = first
        var keys = Set<Int32>()
        while id != noID {
            guard id >= 0 && id < stores.properties.highID else {
                problem(ownerKind, owner, "property chain points to record \(id) beyond the store end")
                return
            }
            guard let record = try? stores.properties.withRecord(id, { PropertyRecord(from: $0) }) else { return }
            if !record.inUse {
                problem(ownerKind, owner, "property record \(id) in its chain is not in use")
                return
            }
            if propertyOwners[Int(id)] > 0 {
                problem(.property, id, "record is in more than one property chain (again by \(ownerKind.recordName) \(owner))")
                return
            }
            propertyOwners[Int(id)] += 1
            report.recordsChecked += 1
            if record.blocks.isEmpty { problem(.property, id, "in-use property record without blocks") }
            for block in record.blocks {
                if stores.propertyKeyTokens.name(of: block.key) == nil {
                    problem(.property, id, "key \(block.key) is not a property key token")
                }
                if !keys.insert(block.key).inserted {
                    problem(ownerKind, owner, "property key \(block.key) appears twice in its chain")
                }
                if block.type == .string || block.type == .encoded {
                    guard let bytes = readDynamic(stores, .propertyValue, block.payload, owner: (.property, id)) else {
                        continue
                    }
                    if block.type == .encoded {
                        var reader = ByteReader(bytes: bytes)
                        if (try? PropertyValueCodec.decodeTagged(&reader)) == nil || reader.remaining != 0 {
                            problem(.property, id, "value of key \(block.key) does not decode")
                        }
                    }
                }
            }
            id = record.next
        }
    }

    /// Walks one relationship chain of `node`: every record in use, `node` at one end, prev/next agreement, the
    /// first-in-chain flag only on the head, and (for group chains) the group's type and direction.
    private func checkChain(
        _ stores: NeoStores, _ node: Int64, _ first: Int64, expectedType: Int32?, chain: String?
    ) {
        var prev = noID
        var id = first
        var steps = 0
        var headLength: Int64 = 0
        defer {
            if first != noID && headLength != Int64(steps) {
                problem(
                    .relationship, first,
                    "heads node \(node)'s chain and records its length as \(headLength), but the chain has \(steps)")
            }
        }
        while id != noID {
            guard id >= 0 && id < stores.relationships.highID else {
                problem(.node, node, "relationship chain points to \(id) beyond the store end")
                return
            }
            guard let rel = try? stores.relationship(id) else { return }
            if !rel.inUse {
                problem(.node, node, "relationship chain reaches \(id), which is not in use")
                return
            }
            if rel.startNode != node && rel.endNode != node {
                problem(.relationship, id, "is in node \(node)'s chain but connects \(rel.startNode)→\(rel.endNode)")
                return
            }
            if prev == noID {
                headLength = rel.prev(for: node)
            } else if rel.prev(for: node) != prev {
                problem(.relationship, id, "prev pointer for node \(node) is \(rel.prev(for: node)), expected \(prev)")
            }
            if rel.isFirst(for: node) != (prev == noID) {
                problem(
                    .relationship, id,
                    prev == noID ? "heads node \(node)'s chain without the first-in-chain flag"
                        : "has the first-in-chain flag for node \(node) but is not the head")
            }
            if let expectedType, rel.type != expectedType {
                problem(.relationship, id, "has type \(rel.type) but is in node \(node)'s group chain for type \(expectedType)")
            }
            if let chain {
                let actual = rel.startNode == rel.endNode ? "loop" : (rel.startNode == node ? "outgoing" : "incoming")
                if actual != chain { problem(.relationship, id, "is \(actual) but in node \(node)'s \(chain) chain") }
            }
            if rel.startNode == node {
                startVisits[Int(id)] &+= 1
            } else {
                endVisits[Int(id)] &+= 1
            }
            prev = id
            id = rel.next(for: node)
            steps += 1
            if steps > startVisits.count {
                problem(.node, node, "relationship chain has a cycle")
                return
            }
        }
    }

    private func checkGroups(_ stores: NeoStores, _ node: Int64, _ first: Int64) {
        var id = first
        var types = Set<Int32>()
        var steps: Int64 = 0
        while id != noID {
            guard id >= 0 && id < stores.groups.highID, let group = try? stores.group(id) else {
                problem(.node, node, "relationship group chain points to invalid group \(id)")
                return
            }
            report.recordsChecked += 1
            if !group.inUse {
                problem(.node, node, "relationship group \(id) in its chain is not in use")
                return
            }
            if group.owner != node { problem(.relationshipGroup, id, "owner is \(group.owner), reached from node \(node)") }
            if !types.insert(group.type).inserted {
                problem(.relationshipGroup, id, "node \(node) has a second group for type \(group.type)")
            }
            checkChain(stores, node, group.firstOut, expectedType: group.type, chain: "outgoing")
            checkChain(stores, node, group.firstIn, expectedType: group.type, chain: "incoming")
            checkChain(stores, node, group.firstLoop, expectedType: group.type, chain: "loop")
            id = group.next
            steps += 1
            if steps > stores.groups.highID {
                problem(.node, node, "relationship group chain has a cycle")
                return
            }
        }
    }

    private func checkOrphans(_ stores: NeoStores) {
        for id in 0..<Int64(propertyOwners.count) where propertyOwners[Int(id)] == 0 {
            if (try? stores.properties.isInUse(id)) == true { problem(.property, id, "in use but in no property chain") }
        }
        for (kind, owners) in dynamicOwners.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let store = stores.store(kind)
            for id in 0..<Int64(owners.count) where owners[Int(id)] == 0 {
                if (try? store.isInUse(id)) == true { problem(kind, id, "in use but in no chain") }
            }
        }
    }

    private func checkDerived(
        _ db: GraphDatabase, labelsOf: [Int64: [Int32]], counts: [CountsKey: Int], scan: LabelScanStore
    ) {
        let labels = Set(scan.bitmaps.keys).union(db.labelScan.bitmaps.keys)
        for label in labels.sorted() {
            let expected = Set(scan.nodes(label))
            let actual = Set(db.labelScan.nodes(label))
            for node in expected.subtracting(actual).sorted() {
                problem("label scan", node, "node has label \(label) but is missing from the label scan store")
            }
            for node in actual.subtracting(expected).sorted() {
                problem("label scan", node, "label scan store lists label \(label), the node record does not")
            }
        }
        for (key, value) in counts where (db.counts[key] ?? 0) != value {
            problem("counts", Int64(key.type), "\(key) is \(db.counts[key] ?? 0) in the counts store, \(value) in the records")
        }
        for (key, value) in db.counts where value != 0 && counts[key] == nil {
            problem("counts", Int64(key.type), "\(key) is \(value) in the counts store, 0 in the records")
        }
        for index in db.indexes.values.sorted(by: { $0.descriptor.name < $1.descriptor.name }) {
            var expected = 0
            for (node, nodeLabels) in labelsOf where nodeLabels.contains(index.descriptor.label) {
                guard let record = try? db.stores.node(node),
                    let value = try? db.stores.property(from: record.nextProp, key: index.descriptor.propertyKey),
                    !value.isNull
                else { continue }
                expected += 1
                if !index.nodes(equal: value).contains(node) {
                    problem("index \(index.descriptor.name)", node, "node's value \(value) is not in the index")
                }
            }
            if index.entryCount != expected {
                problem(
                    "index \(index.descriptor.name)", 0,
                    "index has \(index.entryCount) entries, the store has \(expected) indexed values")
            }
        }
    }
}
