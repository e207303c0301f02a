import GraphValues

/// Turns a transaction's state into record changes against the current committed store: relationship chain
/// splicing (both ends, relationship groups for dense nodes), property chain rewrites, label fields, record
/// deletion. Runs under the commit lock, so the committed store cannot change underneath it.
struct CommitPreparer {
    let stores: NeoStores
    let changes: RecordChanges
    let denseNodeThreshold: Int

    init(stores: NeoStores, pending: PendingRecords? = nil, denseNodeThreshold: Int) {
        self.stores = stores
        self.changes = RecordChanges(stores: stores, pending: pending)
        self.denseNodeThreshold = denseNodeThreshold
    }

    // MARK: Validation

    /// Checks what can only be checked against committed data at commit time.
    func validate(_ state: TransactionState) throws {
        func nodeAlive(_ id: Int64) throws -> Bool {
            if state.deletedNodes.contains(id) { return false }
            if state.isCreated(id) { return true }
            return try stores.nodeInUse(id)
        }
        // An end may have been deleted by a transaction that committed between the existence check and the lock.
        for (id, rel) in state.createdRelationships.sorted(by: { $0.key < $1.key }) {
            let start = rel.startNode.rawValue, end = rel.endNode.rawValue
            let missing = try !nodeAlive(start) ? start : (try !nodeAlive(end) ? end : nil)
            if let missing {
                throw DatabaseError(
                    .entityNotFound, "Cannot create relationship \(id): node \(missing) does not exist (it was deleted)")
            }
        }
        for id in state.deletedRelationships.sorted() where try !stores.relationshipInUse(id) {
            throw DatabaseError(.entityNotFound, "Relationship \(id) does not exist (it was deleted concurrently)")
        }
        for id in state.deletedNodes.sorted() {
            guard try stores.nodeInUse(id) else {
                throw DatabaseError(.entityNotFound, "Node \(id) does not exist (it was deleted concurrently)")
            }
            var rels: [RelationshipInfo] = []
            try stores.collectRelationships(of: id, direction: .both, types: [], into: &rels)
            let remaining = rels.contains { !state.deletedRelationships.contains($0.id.rawValue) }
                || (state.createdRelationshipsByNode[id]?.isEmpty == false)
            if remaining {
                throw DatabaseError(
                    .constraintValidationFailed,
                    "Cannot delete node<\(id)>, because it still has relationships. To delete this node, you must "
                        + "first delete its relationships.")
            }
        }
    }

    // MARK: Record changes

    func apply(_ state: TransactionState) throws {
        // Created nodes first, so relationships can be linked into them.
        // A created node's record is built whole: nothing of what was stored at its id before is kept.
        for id in state.createdNodes.sorted() {
            var record = NodeRecord()
            record.inUse = true
            setLabels(&record, state.nodeLabels[id] ?? [])
            // writeProperties skips `.null` values (removals of keys a new node never had).
            record.nextProp = try writeProperties(oldFirst: noID, changed: state.nodeProperties[id] ?? [:])
            changes.setNode(id, record)
        }
        try applyCreatedBatch(state.createdBatch)
        for id in state.deletedRelationships.sorted() {
            let rel = try changes.relationship(id)
            try unlink(id, from: rel.startNode)
            if rel.endNode != rel.startNode { try unlink(id, from: rel.endNode) }
            try freePropertyChain(rel.nextProp)
            // The freed record keeps its type and end nodes: recovery from a derived-structures snapshot reads them
            // from this after-image to take the relationship out of the counts (DerivedRedoTracker).
            var freed = RelationshipRecord()
            freed.type = rel.type
            freed.startNode = rel.startNode
            freed.endNode = rel.endNode
            try changes.modifyRelationship(id) { $0 = freed }
        }
        if !state.createdRelationships.isEmpty { try linkCreatedRelationships(state) }
        for id in state.deletedNodes.sorted() {
            let record = try changes.node(id)
            try freePropertyChain(record.nextProp)
            if record.labelOverflow != noID { try changes.freeDynamicChain(.nodeLabels, record.labelOverflow) }
            if record.dense {
                var groupID = record.nextRel
                while groupID != noID {
                    let group = try changes.group(groupID)
                    try changes.modifyGroup(groupID) { $0 = RelationshipGroupRecord() }
                    groupID = group.next
                }
            }
            try changes.modifyNode(id) { $0 = NodeRecord() }
        }
        for (id, labels) in state.nodeLabels.sorted(by: { $0.key < $1.key })
        where !state.createdNodes.contains(id) && !state.deletedNodes.contains(id) {
            try writeLabels(node: id, labels)
        }
        for (id, props) in state.nodeProperties.sorted(by: { $0.key < $1.key })
        where !state.createdNodes.contains(id) && !state.deletedNodes.contains(id) {
            let old = try changes.node(id).nextProp
            let first = try writeProperties(oldFirst: old, changed: props)
            try changes.modifyNode(id) { $0.nextProp = first }
        }
        for (id, props) in state.relationshipProperties.sorted(by: { $0.key < $1.key })
        where state.createdRelationships[id] == nil && !state.deletedRelationships.contains(id) {
            let old = try changes.relationship(id).nextProp
            let first = try writeProperties(oldFirst: old, changed: props)
            try changes.modifyRelationship(id) { $0.nextProp = first }
        }
    }

    /// Records of the batch of created nodes, straight from its columns: a node record each, its property chain
    /// from the node's (already key-sorted) slots, and a label chain only for more labels than fit inline.
    private func applyCreatedBatch(_ batch: CreatedNodeBatch) throws {
        guard !batch.isEmpty else { return }
        // One record template per label set: a set of more than the inline labels gets its own chain per node.
        var templates: [NodeRecord?] = batch.labelSets.map { labels in
            guard labels.count <= NodeRecord.maxInlineLabels else { return nil }
            var record = NodeRecord()
            record.inUse = true
            record.setInlineLabels(labels)
            return record
        }
        var blocks: [PropertyBlock] = []
        changes.reserveCreated(
            nodes: batch.count,
            properties: (batch.keys.count + PropertyRecord.blocksPerRecord - 1) / PropertyRecord.blocksPerRecord
                + batch.count)
        for index in 0..<batch.count {
            let labelSet = Int(batch.labelSetOfNode[index])
            var record: NodeRecord
            if let template = templates[labelSet] {
                record = template
            } else {
                record = NodeRecord()
                record.inUse = true
                setLabels(&record, batch.labelSets[labelSet])
            }
            blocks.removeAll(keepingCapacity: true)
            for slot in batch.slots(at: index) {
                let encoded = try PropertyValueCodec.encode(batch.values[slot])
                var payload = encoded.payload
                if let dynamic = encoded.dynamic { payload = changes.writeDynamicChain(.propertyValue, dynamic) }
                blocks.append(
                    PropertyBlock(
                        key: batch.keys[slot], type: encoded.type, inlineLength: encoded.inlineLength, payload: payload))
            }
            record.nextProp = writeNewPropertyChain(blocks)
            changes.appendCreatedNode(batch.ids[index], record)
        }
        templates.removeAll()
    }

    /// Writes `blocks` as a new property chain (no old records to reuse); returns its first record or `noID`.
    private func writeNewPropertyChain(_ blocks: [PropertyBlock]) -> Int64 {
        guard !blocks.isEmpty else { return noID }
        let perRecord = PropertyRecord.blocksPerRecord
        let recordCount = (blocks.count + perRecord - 1) / perRecord
        var ids: [Int64] = []
        ids.reserveCapacity(recordCount)
        for _ in 0..<recordCount { ids.append(changes.allocate(.property)) }
        for (index, recordID) in ids.enumerated() {
            var record = PropertyRecord()
            record.inUse = true
            record.next = index + 1 < ids.count ? ids[index + 1] : noID
            let start = index * perRecord
            record.blocks = recordCount == 1 ? blocks : Array(blocks[start..<min(blocks.count, start + perRecord)])
            changes.appendCreatedProperty(recordID, record)
        }
        return ids[0]
    }

    // MARK: Labels

    private func writeLabels(node: Int64, _ labels: [Int32]) throws {
        let old = try changes.node(node)
        if old.labelOverflow != noID { try changes.freeDynamicChain(.nodeLabels, old.labelOverflow) }
        try changes.modifyNode(node) { setLabels(&$0, labels) }
    }

    /// Sets a node record's label fields to `labels` (inline, or a new dynamic chain); any old chain must have been
    /// freed by the caller.
    private func setLabels(_ record: inout NodeRecord, _ labels: [Int32]) {
        let sorted = labels.count < 2 ? labels : Array(Set(labels)).sorted()
        if sorted.count <= NodeRecord.maxInlineLabels {
            record.setInlineLabels(sorted)
        } else {
            var bytes: [UInt8] = []
            for label in sorted { appendInt32(&bytes, label) }
            record.labelCount = NodeRecord.overflowMarker
            record.labelOverflow = changes.writeDynamicChain(.nodeLabels, bytes)
        }
    }

    // MARK: Properties

    /// Rewrites a property chain with `changed` applied (`.null` removes a key); returns the new first record.
    /// Unchanged blocks keep their dynamic records; old property record ids are reused before new ones.
    private func writeProperties(oldFirst: Int64, changed: [Int32: Value]) throws -> Int64 {
        var oldIDs: [Int64] = []
        var blocks: [PropertyBlock] = []
        var id = oldFirst
        while id != noID {
            let record = try changes.property(id)
            oldIDs.append(id)
            for block in record.blocks {
                if changed[block.key] != nil {
                    try freeBlockValue(block)
                } else {
                    blocks.append(block)
                }
            }
            id = record.next
            precondition(oldIDs.count <= Int(stores.properties.highID) + 1, "cycle in property chain \(oldFirst)")
        }
        for (key, value) in changed.sorted(by: { $0.key < $1.key }) where !value.isNull {
            let encoded = try PropertyValueCodec.encode(value)
            var payload = encoded.payload
            if let dynamic = encoded.dynamic { payload = changes.writeDynamicChain(.propertyValue, dynamic) }
            blocks.append(PropertyBlock(key: key, type: encoded.type, inlineLength: encoded.inlineLength, payload: payload))
        }
        let recordCount = (blocks.count + PropertyRecord.blocksPerRecord - 1) / PropertyRecord.blocksPerRecord
        var ids = Array(oldIDs.prefix(recordCount))
        while ids.count < recordCount { ids.append(changes.allocate(.property)) }
        for extra in oldIDs.dropFirst(recordCount) { changes.setProperty(extra, PropertyRecord()) }
        for (index, recordID) in ids.enumerated() {
            var record = PropertyRecord()
            record.inUse = true
            record.next = index + 1 < ids.count ? ids[index + 1] : noID
            let start = index * PropertyRecord.blocksPerRecord
            record.blocks =
                ids.count == 1 ? blocks : Array(blocks[start..<min(blocks.count, start + PropertyRecord.blocksPerRecord)])
            changes.setProperty(recordID, record)
        }
        return ids.first ?? noID
    }

    private func freeBlockValue(_ block: PropertyBlock) throws {
        if block.type == .string || block.type == .encoded {
            try changes.freeDynamicChain(.propertyValue, block.payload)
        }
    }

    private func freePropertyChain(_ first: Int64) throws {
        var id = first
        var steps = 0
        while id != noID {
            let record = try changes.property(id)
            guard record.inUse else { break }
            for block in record.blocks { try freeBlockValue(block) }
            changes.setProperty(id, PropertyRecord())
            id = record.next
            steps += 1
            precondition(steps <= Int(stores.properties.highID) + 1, "cycle in property chain \(first)")
        }
    }

    // MARK: Relationship chains

    /// Which chain of a dense node's group a relationship belongs to.
    private enum GroupChain { case outgoing, incoming, loop }

    private func groupChain(_ rel: RelationshipRecord, _ node: Int64) -> GroupChain {
        if rel.startNode == rel.endNode { return .loop }
        return rel.startNode == node ? .outgoing : .incoming
    }

    private func head(_ group: RelationshipGroupRecord, _ chain: GroupChain) -> Int64 {
        switch chain {
        case .outgoing: return group.firstOut
        case .incoming: return group.firstIn
        case .loop: return group.firstLoop
        }
    }

    private func setHead(_ group: inout RelationshipGroupRecord, _ chain: GroupChain, _ value: Int64) {
        switch chain {
        case .outgoing: group.firstOut = value
        case .incoming: group.firstIn = value
        case .loop: group.firstLoop = value
        }
    }

    /// The group of `type` in a dense node's group chain, created (at the head) when `create` is set.
    private func findGroup(_ node: Int64, _ type: Int32, create: Bool) throws -> Int64? {
        var id = try changes.node(node).nextRel
        while id != noID {
            let group = try changes.peekGroup(id)
            if group.type == type { return id }
            id = group.next
        }
        guard create else { return nil }
        let groupID = changes.allocate(.relationshipGroup)
        var group = RelationshipGroupRecord()
        group.inUse = true
        group.type = type
        group.owner = node
        group.next = try changes.node(node).nextRel
        try changes.modifyGroup(groupID) { $0 = group }
        try changes.modifyNode(node) { $0.nextRel = groupID }
        return groupID
    }

    /// Inserts relationship `id` at the head of `node`'s chain (or of its group chain when dense). As in Neo4j, the
    /// head's prev pointer for `node` holds the chain's length, so the dense-threshold check is O(1).
    private func link(_ id: Int64, into node: Int64) throws {
        var record = try changes.node(node)
        precondition(record.inUse, "linking relationship \(id) into node \(node) which is not in use")
        if !record.dense && denseNodeThreshold > 0 {
            if try chainLength(record.nextRel, node) >= Int64(denseNodeThreshold) {
                try convertToDense(node)
                record = try changes.node(node)
            }
        }
        let rel = try changes.relationship(id)
        let first: Int64
        if record.dense {
            let groupID = try findGroup(node, rel.type, create: true)!
            let chain = groupChain(rel, node)
            first = head(try changes.group(groupID), chain)
            try changes.modifyGroup(groupID) { setHead(&$0, chain, id) }
        } else {
            first = record.nextRel
            try changes.modifyNode(node) { $0.nextRel = id }
        }
        let length = try chainLength(first, node)
        try changes.modifyRelationship(id) {
            $0.setPrev(for: node, length + 1)
            $0.setNext(for: node, first)
            $0.setFirst(for: node, true)
        }
        if first != noID {
            try changes.modifyRelationship(first) {
                $0.setPrev(for: node, id)
                $0.setFirst(for: node, false)
            }
        }
    }

    /// Writes the transaction's created relationships and splices them into their end nodes' chains, one node at a
    /// time: a sparse node's new relationships are chained to each other in a local array and its old head is
    /// touched once, instead of each relationship being linked separately through the record tables (which
    /// rewrote the node and the previous head per relationship). The result is the same as linking them one by one
    /// in id order: per node, newest first, then the old chain, the length in the head's prev pointer.
    /// Dense nodes, and nodes that become dense in this commit, go through `link` as before.
    private func linkCreatedRelationships(_ state: TransactionState) throws {
        let created = state.createdRelationships.sorted { $0.key < $1.key }
        var records: [RelationshipRecord] = []
        records.reserveCapacity(created.count)
        // (node, position in `created`) per end; ordered by node, then by position (= id order).
        var ends: [(node: Int64, position: Int32)] = []
        ends.reserveCapacity(created.count * 2)
        for (position, (id, info)) in created.enumerated() {
            var record = RelationshipRecord()
            record.inUse = true
            record.type = info.type
            record.startNode = info.startNode.rawValue
            record.endNode = info.endNode.rawValue
            // writeProperties skips `.null` values (removals of keys a new relationship never had).
            if let props = state.relationshipProperties[id], !props.isEmpty {
                record.nextProp = try writeProperties(oldFirst: noID, changed: props)
            }
            records.append(record)
            ends.append((info.startNode.rawValue, Int32(position)))
            if info.endNode != info.startNode { ends.append((info.endNode.rawValue, Int32(position))) }
        }
        ends.sort { $0.node != $1.node ? $0.node < $1.node : $0.position < $1.position }

        var slowNodes: [(node: Int64, range: Range<Int>)] = []
        var groupStart = 0
        while groupStart < ends.count {
            let node = ends[groupStart].node
            var groupEnd = groupStart + 1
            while groupEnd < ends.count && ends[groupEnd].node == node { groupEnd += 1 }
            defer { groupStart = groupEnd }
            let nodeRecord = try changes.node(node)
            precondition(nodeRecord.inUse, "linking relationships into node \(node) which is not in use")
            let head = nodeRecord.nextRel
            let count = groupEnd - groupStart
            if nodeRecord.dense {
                slowNodes.append((node, groupStart..<groupEnd))
                continue
            }
            let length = try chainLength(head, node)
            // `link` converts a node when the chain it links into is already at the threshold.
            if denseNodeThreshold > 0 && length + Int64(count) - 1 >= Int64(denseNodeThreshold) {
                slowNodes.append((node, groupStart..<groupEnd))
                continue
            }
            for i in groupStart..<groupEnd {
                let position = Int(ends[i].position)
                let next = i == groupStart ? head : created[Int(ends[i - 1].position)].key
                let isHead = i == groupEnd - 1
                let prev = isHead ? length + Int64(count) : created[Int(ends[i + 1].position)].key
                records[position].setNext(for: node, next)
                records[position].setPrev(for: node, prev)
                records[position].setFirst(for: node, isHead)
            }
            let newHead = created[Int(ends[groupEnd - 1].position)].key
            try changes.modifyNode(node) { $0.nextRel = newHead }
            if head != noID {
                let oldest = created[Int(ends[groupStart].position)].key
                try changes.modifyRelationship(head) {
                    $0.setPrev(for: node, oldest)
                    $0.setFirst(for: node, false)
                }
            }
        }
        for (position, (id, _)) in created.enumerated() { changes.setRelationship(id, records[position]) }
        // Each end's fields are only written for that end, so the records in the table are complete for the
        // sparse ends; dense ones are linked into their groups now, in id order as before.
        for (node, range) in slowNodes {
            for i in range { try link(created[Int(ends[i].position)].key, into: node) }
        }
    }

    /// The head of the chain `rel` is in for `node`: the node's first relationship, or its group's chain head.
    private func chainHead(_ rel: RelationshipRecord, _ relID: Int64, _ node: Int64) throws -> (Int64, (Int64) throws -> Void) {
        let record = try changes.node(node)
        if record.dense {
            guard let groupID = try findGroup(node, rel.type, create: false) else {
                throw DatabaseError(
                    .storageDamageDetected, "Dense node \(node) has no group for the type of relationship \(relID)")
            }
            let chain = groupChain(rel, node)
            return (head(try changes.group(groupID), chain), { newHead in
                try self.changes.modifyGroup(groupID) { self.setHead(&$0, chain, newHead) }
            })
        }
        return (record.nextRel, { newHead in try self.changes.modifyNode(node) { $0.nextRel = newHead } })
    }

    /// Removes relationship `id` from `node`'s chain, keeping the length in the head's prev pointer.
    private func unlink(_ id: Int64, from node: Int64) throws {
        let rel = try changes.relationship(id)
        let next = rel.next(for: node)
        let (headID, setHeadPointer) = try chainHead(rel, id, node)
        if rel.isFirst(for: node) {
            precondition(headID == id, "relationship \(id) is flagged first for node \(node) but the head is \(headID)")
            let length = rel.prev(for: node)
            try setHeadPointer(next)
            if next != noID {
                try changes.modifyRelationship(next) {
                    $0.setPrev(for: node, length - 1)
                    $0.setFirst(for: node, true)
                }
            }
        } else {
            let prev = rel.prev(for: node)
            try changes.modifyRelationship(prev) { $0.setNext(for: node, next) }
            if next != noID { try changes.modifyRelationship(next) { $0.setPrev(for: node, prev) } }
            try changes.modifyRelationship(headID) { $0.setPrev(for: node, $0.prev(for: node) - 1) }
        }
    }

    /// Length of the chain whose head is `first` (read from the head's prev pointer; 0 for an empty chain). Only
    /// peeks, so an unchanged head does not become part of the commit.
    private func chainLength(_ first: Int64, _ node: Int64) throws -> Int64 {
        guard first != noID else { return 0 }
        return try changes.peekRelationship(first).prev(for: node)
    }

    /// Moves a node's relationships into per-type groups (Neo4j's dense node layout).
    private func convertToDense(_ node: Int64) throws {
        var ids: [Int64] = []
        var id = try changes.node(node).nextRel
        while id != noID {
            ids.append(id)
            id = try changes.relationship(id).next(for: node)
            precondition(ids.count <= Int(stores.relationships.highID) + 1, "cycle in chain of node \(node)")
        }
        try changes.modifyNode(node) {
            $0.dense = true
            $0.nextRel = noID
        }
        // Re-link in reverse so each group chain keeps the original relative order.
        for relID in ids.reversed() { try link(relID, into: node) }
    }
}
