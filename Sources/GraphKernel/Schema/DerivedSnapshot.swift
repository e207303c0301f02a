import GraphValues
import Logging

/// The derived structures (label scan, online schema indexes, counts) as of one transaction, written at every
/// checkpoint so that opening a store does not rebuild them from every record.
///
/// File `neostore.derived.db`, little-endian, replaced atomically (temp file, fsync, rename):
/// magic "TRDERIV\0" · format version (Int32) · store id random (Int64) · store creation time (Int64) ·
/// transaction id the content is exact for (Int64) · label scan: label count (Int32), per label its token (Int32),
/// word count (Int64) and the bitmap words · counts: entry count (Int64), per entry start label, type, end label
/// (Int32 each), node flag (UInt8), count (Int64) · indexes: count (Int32), per index name, label, property key,
/// unique flag, key count (Int64), per key the tagged value, node count (Int64) and node ids (Int64 each) ·
/// XXH64 of everything before it (UInt64).
///
/// A snapshot that is missing, damaged, of another store or of an unknown format is never used: the caller logs
/// why and rebuilds from the records (see `GraphDatabase.restoreDerivedStores`).
struct DerivedSnapshot {
    static let fileName = "neostore.derived.db"
    static let magic: [UInt8] = Array("TRDERIV".utf8) + [0]
    static let formatVersion: Int32 = 1

    var storeID: StoreID
    var txID: Int64
    var labelScan: LabelScanStore
    var counts: [CountsKey: Int]
    /// Online indexes only: a populating or failed index is rebuilt (or stays failed) from the schema rules.
    var indexes: [PropertyIndex]

    func encode() -> [UInt8] {
        var out = Self.magic
        appendInt32(&out, Self.formatVersion)
        appendInt64(&out, Int64(bitPattern: storeID.random))
        appendInt64(&out, storeID.creationTimeMillis)
        appendInt64(&out, txID)
        let labels = labelScan.bitmaps.keys.sorted()
        appendInt32(&out, Int32(labels.count))
        for label in labels {
            let words = labelScan.bitmaps[label]!
            appendInt32(&out, label)
            appendInt64(&out, Int64(words.count))
            out.reserveCapacity(out.count + words.count * 8)
            for word in words { appendInt64(&out, Int64(bitPattern: word)) }
        }
        let nonZero = counts.filter { $0.value != 0 }.sorted {
            ($0.key.isNode ? 0 : 1, $0.key.startLabel, $0.key.type, $0.key.endLabel)
                < ($1.key.isNode ? 0 : 1, $1.key.startLabel, $1.key.type, $1.key.endLabel)
        }
        appendInt64(&out, Int64(nonZero.count))
        for (key, value) in nonZero {
            appendInt32(&out, key.startLabel)
            appendInt32(&out, key.type)
            appendInt32(&out, key.endLabel)
            out.append(key.isNode ? 1 : 0)
            appendInt64(&out, Int64(value))
        }
        appendInt32(&out, Int32(indexes.count))
        for index in indexes.sorted(by: { $0.descriptor.name < $1.descriptor.name }) {
            let name = Array(index.descriptor.name.utf8)
            appendInt32(&out, Int32(name.count))
            out.append(contentsOf: name)
            appendInt32(&out, index.descriptor.label)
            appendInt32(&out, index.descriptor.propertyKey)
            out.append(index.descriptor.isUnique ? 1 : 0)
            appendInt64(&out, Int64(index.entries.count))
            for (key, nodes) in index.entries {
                PropertyValueCodec.encodeTagged(key.value, into: &out)
                appendInt64(&out, Int64(nodes.count))
                for node in nodes { appendInt64(&out, node) }
            }
        }
        let checksum = XXHash64.hash(out)
        appendInt64(&out, Int64(bitPattern: checksum))
        return out
    }

    /// Decodes `bytes`; throws a `DerivedSnapshotRejected` saying why the content cannot be used.
    static func decode(_ bytes: [UInt8], expectedStore: StoreID) throws -> DerivedSnapshot {
        guard bytes.count >= magic.count + 4 + 24 + 8, Array(bytes.prefix(magic.count)) == magic else {
            throw DerivedSnapshotRejected(reason: "it is not a derived-structures snapshot")
        }
        let stored = UInt64(bitPattern: readInt64(bytes, bytes.count - 8))
        guard XXHash64.hash(bytes[0..<(bytes.count - 8)]) == stored else {
            throw DerivedSnapshotRejected(reason: "its checksum does not match (torn or damaged file)")
        }
        var r = ByteReader(bytes: Array(bytes.prefix(bytes.count - 8)), position: magic.count)
        do {
            let version = try r.int32()
            guard version == formatVersion else {
                throw DerivedSnapshotRejected(reason: "its format version \(version) is not \(formatVersion)")
            }
            let storeID = StoreID(random: UInt64(bitPattern: try r.int64()), creationTimeMillis: try r.int64())
            guard storeID == expectedStore else {
                throw DerivedSnapshotRejected(reason: "it belongs to another store (\(storeID))")
            }
            let txID = try r.int64()
            var bitmaps: [Int32: [UInt64]] = [:]
            let labelCount = Int(try r.int32())
            guard labelCount >= 0, labelCount <= r.remaining else { throw r.damaged("bad label count") }
            for _ in 0..<labelCount {
                let label = try r.int32()
                let wordCount = Int(try r.int64())
                guard wordCount >= 0, wordCount <= r.remaining / 8 else { throw r.damaged("bad bitmap length") }
                var words = [UInt64](repeating: 0, count: wordCount)
                for i in 0..<wordCount { words[i] = UInt64(bitPattern: try r.int64()) }
                bitmaps[label] = words
            }
            var counts: [CountsKey: Int] = [:]
            let countCount = Int(try r.int64())
            guard countCount >= 0, countCount <= r.remaining else { throw r.damaged("bad counts length") }
            for _ in 0..<countCount {
                let start = try r.int32()
                let type = try r.int32()
                let end = try r.int32()
                let isNode = try r.byte() == 1
                counts[CountsKey(startLabel: start, type: type, endLabel: end, isNode: isNode)] = Int(try r.int64())
            }
            var indexes: [PropertyIndex] = []
            let indexCount = Int(try r.int32())
            guard indexCount >= 0, indexCount <= r.remaining else { throw r.damaged("bad index count") }
            for _ in 0..<indexCount {
                let name = String(decoding: try r.bytes(Int(try r.int32())), as: UTF8.self)
                let label = try r.int32()
                let key = try r.int32()
                let unique = try r.byte() == 1
                let keyCount = Int(try r.int64())
                guard keyCount >= 0, keyCount <= r.remaining else { throw r.damaged("bad index key count") }
                var entries: [IndexKey: IndexHolders] = [:]
                entries.reserveCapacity(keyCount)
                for _ in 0..<keyCount {
                    let value = try PropertyValueCodec.decodeTagged(&r)
                    let nodeCount = Int(try r.int64())
                    guard nodeCount > 0, nodeCount <= r.remaining / 8 else { throw r.damaged("bad index entry") }
                    var nodes = IndexHolders()
                    for _ in 0..<nodeCount {
                        let node = try r.int64()
                        guard node >= 0 else { throw r.damaged("bad index entry node") }
                        _ = nodes.insertReportingFirst(node)
                    }
                    guard entries.updateValue(nodes, forKey: IndexKey(value)) == nil else {
                        throw r.damaged("index key filed twice")
                    }
                }
                indexes.append(
                    PropertyIndex(
                        descriptor: IndexDescriptor(
                            name: name, label: label, propertyKey: key, isUnique: unique, state: .online),
                        entries: entries))
            }
            guard r.remaining == 0 else { throw r.damaged("trailing bytes") }
            return DerivedSnapshot(
                storeID: storeID, txID: txID, labelScan: LabelScanStore(bitmaps: bitmaps), counts: counts,
                indexes: indexes)
        } catch let error as DatabaseError {
            throw DerivedSnapshotRejected(reason: error.message)
        }
    }
}

/// Why a derived-structures snapshot was not used (the store is fine; the structures are rebuilt).
struct DerivedSnapshotRejected: Error {
    var reason: String
}

extension IndexKey {
    /// A value that files under this key again (`IndexKey(key.value) == key`).
    var value: Value {
        switch self {
        case .integer(let i): return .integer(i)
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        case .other(let v): return v
        }
    }
}

// MARK: - Redo of the transactions after a snapshot

/// What the transactions after a snapshot changed, collected while recovery re-applies their records, so the
/// snapshot can be brought up to date without reading any record state older than the final one.
///
/// Every derived structure is a sum of per-entity contributions: a node contributes its labels (label scan,
/// node counts) and its indexed values; a relationship contributes to the counts through its type and the labels
/// of its end nodes. So `derived(final) = derived(snapshot) − Σ contribution(snapshot) + Σ contribution(final)`
/// over the entities whose contribution may have changed. Final contributions are read from the recovered
/// records. Snapshot-time contributions come from the snapshot itself (labels from its label scan, values from
/// its indexes) and from the log: the first change of an entity after the snapshot says whether it existed then
/// (a creation means it did not), and a relationship's deletion record keeps its type and end nodes (which never
/// change during its life). The on-disk records cannot serve here: after a kill -9 they may already hold pages
/// of transactions later than the snapshot.
struct DerivedRedoTracker {
    let baseTxID: Int64
    /// First change of each node after the base: whether it was in use at the base.
    private(set) var nodeInUseAtBase: [Int64: Bool] = [:]
    /// First change of each relationship after the base: its (type, start, end) at the base, nil when not in use.
    private(set) var relationshipAtBase: [Int64: (type: Int32, start: Int64, end: Int64)?] = [:]
    /// Nodes whose labels changed: their relationships' count contributions change too.
    private(set) var labelChangedNodes: Set<Int64> = []
    /// Set when the log lacks something the redo needs; the caller then rebuilds instead.
    private(set) var unusableReason: String?
    private(set) var observedTransactions = 0

    init(baseTxID: Int64) { self.baseTxID = baseTxID }

    mutating func observe(_ tx: TransactionRepresentation, txID: Int64) {
        guard txID > baseTxID, unusableReason == nil else { return }
        observedTransactions += 1
        for change in tx.nodeChanges {
            if nodeInUseAtBase[change.id] == nil {
                nodeInUseAtBase[change.id] = change.flags & TransactionRepresentation.NodeChange.created == 0
            }
            if change.flags & TransactionRepresentation.NodeChange.labels != 0 { labelChangedNodes.insert(change.id) }
        }
        guard !tx.relationshipChanges.isEmpty else { return }
        var commands: [Int64: RecordCommand] = [:]
        for command in tx.records where command.kind == .relationship { commands[command.id] = command }
        for id in tx.relationshipChanges where relationshipAtBase[id] == nil {
            guard let command = commands[id] else {
                unusableReason = "transaction \(txID) changes relationship \(id) without its record"
                return
            }
            if command.afterInUse {
                relationshipAtBase[id] = .some(nil)
                continue
            }
            var after = command.after
            let record = after.withUnsafeMutableBytes { RelationshipRecord(from: $0.baseAddress!) }
            guard record.startNode != noID, record.endNode != noID else {
                // Logs written before deletions kept these fields.
                unusableReason = "transaction \(txID) deletes relationship \(id) without recording its end nodes"
                return
            }
            relationshipAtBase[id] = (record.type, record.startNode, record.endNode)
        }
    }
}

extension GraphDatabase {
    /// Brings `snapshot` (exact at `tracker.baseTxID`) to the recovered state of the records and installs it as
    /// the derived structures. Must hold the store exclusively (called during open).
    func installDerived(_ snapshot: DerivedSnapshot, redo tracker: DerivedRedoTracker) throws {
        var scan = snapshot.labelScan
        var counts = snapshot.counts
        let labelsInScan = scan.bitmaps.keys.sorted()
        func labelsAtBase(_ node: Int64) -> [Int32] { labelsInScan.filter { scan.contains($0, node) } }

        // Indexes whose definition is unchanged are brought up to date; others are populated from the records.
        var kept: [PropertyIndex] = []
        var indexes: [String: PropertyIndex] = [:]
        let snapshotByName = Dictionary(snapshot.indexes.map { ($0.descriptor.name, $0) }, uniquingKeysWith: { a, _ in a })
        var toPopulate: [IndexDescriptor] = []
        for descriptor in schema.indexes {
            if let index = snapshotByName[descriptor.name], index.descriptor.label == descriptor.label,
                index.descriptor.propertyKey == descriptor.propertyKey,
                index.descriptor.isUnique == descriptor.isUnique
            {
                kept.append(index)
                indexes[descriptor.name] = index
            } else {
                toPopulate.append(descriptor)
            }
        }

        // 1. Relationships whose contribution may have changed, with their contribution at the base subtracted
        //    (this reads the base label scan, so it runs before the nodes are updated).
        var relationships = Set(tracker.relationshipAtBase.keys)
        var chain: [RelationshipInfo] = []
        for node in tracker.labelChangedNodes.sorted() where try stores.nodeInUse(node) {
            chain.removeAll(keepingCapacity: true)
            try stores.collectRelationships(of: node, direction: .both, types: [], into: &chain)
            for rel in chain { relationships.insert(rel.id.rawValue) }
        }
        let sortedRelationships = relationships.sorted()
        for id in sortedRelationships {
            let base: (type: Int32, start: Int64, end: Int64)?
            if let first = tracker.relationshipAtBase[id] {
                base = first
            } else {
                // Not created or deleted since the base: the recovered record is the base one.
                let record = try stores.relationship(id)
                base = record.inUse ? (record.type, record.startNode, record.endNode) : nil
            }
            guard let base else { continue }
            CountsContribution.relationship(
                type: base.type, startLabels: labelsAtBase(base.start), endLabels: labelsAtBase(base.end), sign: -1,
                into: &counts)
        }

        // 2. Nodes: out with the base contribution, in with the recovered one.
        let changedNodes = Set(tracker.nodeInUseAtBase.keys)
        var baseValues: [String: [Int64: Value]] = [:]
        for index in kept { baseValues[index.descriptor.name] = index.values(of: changedNodes) }
        for node in changedNodes.sorted() {
            let baseLabels = labelsAtBase(node)
            if tracker.nodeInUseAtBase[node] == true {
                CountsContribution.node(labels: baseLabels, sign: -1, into: &counts)
            }
            for label in baseLabels { scan.remove(label, node) }
            for index in kept {
                if let value = baseValues[index.descriptor.name]?[node] { index.remove(value, node) }
            }
            let record = try stores.node(node)
            guard record.inUse else { continue }
            let labels = try stores.labels(of: record)
            CountsContribution.node(labels: labels, sign: 1, into: &counts)
            for label in labels { scan.add(label, node) }
            for index in kept where labels.contains(index.descriptor.label) {
                let value = try stores.property(from: record.nextProp, key: index.descriptor.propertyKey)
                if !value.isNull { index.add(value, node) }
            }
        }

        // 3. Relationships: in with the recovered contribution.
        var labelCache: [Int64: [Int32]] = [:]
        func labelsNow(_ node: Int64) throws -> [Int32] {
            if let labels = labelCache[node] { return labels }
            let labels = try stores.labels(of: try stores.node(node))
            labelCache[node] = labels
            return labels
        }
        for id in sortedRelationships {
            let record = try stores.relationship(id)
            guard record.inUse else { continue }
            CountsContribution.relationship(
                type: record.type, startLabels: try labelsNow(record.startNode), endLabels: try labelsNow(record.endNode),
                sign: 1, into: &counts)
        }

        labelScan = scan
        self.counts = counts.filter { $0.value != 0 }
        self.indexes = indexes
        // One whose population failed before stays FAILED (`installRecordedIndexFailures`): not populated here.
        for descriptor in toPopulate where recordedFailure(of: descriptor) == nil { try populateIndex(descriptor) }
    }

    /// Builds `descriptor`'s index from the committed records through the label scan and installs it online.
    func populateIndex(_ descriptor: IndexDescriptor) throws {
        var online = descriptor
        online.state = .online
        let index = PropertyIndex(descriptor: online)
        for node in labelScan.nodes(descriptor.label) {
            let record = try stores.node(node)
            let value = try stores.property(from: record.nextProp, key: descriptor.propertyKey)
            if !value.isNull { index.add(value, node) }
        }
        indexes[descriptor.name] = index
    }

    /// The derived structures as they are now, for the checkpoint. Must hold the store lock (shared at least).
    func derivedSnapshot() -> DerivedSnapshot {
        DerivedSnapshot(
            storeID: metadata.storeID, txID: metadata.lastCommittedTx, labelScan: labelScan, counts: counts,
            indexes: indexes.values.filter { $0.descriptor.state == .online })
    }
}

// MARK: - Open

/// A snapshot accepted at open, with what recovery learns about the transactions after it.
struct LoadedDerivedSnapshot {
    var snapshot: DerivedSnapshot
    var redo: DerivedRedoTracker
    /// Why it could not be used, when it turns out to be unusable; logged before the rebuild.
    var rejection: String?
}

extension GraphDatabase {
    /// The snapshot file when it can serve as the base of the derived structures: of this store, intact, not older
    /// than the checkpoint recovery starts from (older log files may be pruned) and not newer than the log.
    /// Otherwise a rejected result saying why, or nil for a store without one.
    func loadDerivedSnapshot(lastCommittedTx: Int64) -> LoadedDerivedSnapshot? {
        let path = directory + "/" + DerivedSnapshot.fileName
        guard fileSystem.fileExists(path) else { return nil }
        let empty = DerivedSnapshot(storeID: metadata.storeID, txID: 0, labelScan: LabelScanStore(), counts: [:], indexes: [])
        func rejected(_ reason: String) -> LoadedDerivedSnapshot {
            // A redo tracker that ignores every transaction: nothing will be redone on top of this one.
            LoadedDerivedSnapshot(snapshot: empty, redo: DerivedRedoTracker(baseTxID: .max), rejection: reason)
        }
        do {
            guard let bytes = try readWholeFile(fileSystem, path) else { return nil }
            let snapshot = try DerivedSnapshot.decode(bytes, expectedStore: metadata.storeID)
            if snapshot.txID < metadata.lastCheckpointedTx {
                return rejected(
                    "it is of transaction \(snapshot.txID), older than the last checkpoint (\(metadata.lastCheckpointedTx))")
            }
            if snapshot.txID > lastCommittedTx {
                return rejected("it is of transaction \(snapshot.txID), newer than the log (\(lastCommittedTx))")
            }
            return LoadedDerivedSnapshot(snapshot: snapshot, redo: DerivedRedoTracker(baseTxID: snapshot.txID))
        } catch let error as DerivedSnapshotRejected {
            return rejected(error.reason)
        } catch {
            return rejected("it cannot be read (\(error))")
        }
    }

    /// Installs the derived structures: the snapshot brought up to date when it is usable, else a full rebuild
    /// from the records, with a log line saying why.
    func restoreDerivedStores(_ loaded: LoadedDerivedSnapshot?) throws {
        let logger = configuration.logger
        var reason: String
        if let loaded {
            if let rejection = loaded.rejection ?? loaded.redo.unusableReason {
                reason = rejection
            } else {
                do {
                    let started = monotonicNanos()
                    try installDerived(loaded.snapshot, redo: loaded.redo)
                    derivedStoresFromSnapshot = true
                    logger.debug(
                        "Derived structures loaded from their snapshot",
                        metadata: [
                            "snapshotTx": "\(loaded.snapshot.txID)",
                            "redoneTransactions": "\(loaded.redo.observedTransactions)",
                            "millis": "\((monotonicNanos() - started) / 1_000_000)",
                        ])
                    return
                } catch {
                    reason = "bringing it up to date failed (\(error))"
                }
            }
        } else {
            reason = "there is none"
        }
        let isEmpty = stores.nodes.highID == 0 && stores.relationships.highID == 0
        let started = monotonicNanos()
        derivedStoresFromSnapshot = false
        try rebuildDerivedStores()
        if !isEmpty || loaded != nil {
            logger.notice(
                """
                Rebuilt the label scan store, indexes and counts from the records: the derived-structures snapshot \
                \(DerivedSnapshot.fileName) was not used because \(reason)
                """,
                metadata: [
                    "directory": "\(directory)", "millis": "\((monotonicNanos() - started) / 1_000_000)",
                ])
        }
    }
}
