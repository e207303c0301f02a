import GraphValues

/// Turns a transaction's state into record changes against the current committed store: relationship chain
/// splicing (both ends, relationship groups for dense nodes), property chain rewrites, label fields, record
/// deletion. Runs under the commit lock, so the committed store cannot change underneath it.
struct CommitPreparer {
    let stores: NeoStores
    let changes: RecordChanges
    let denseNodeThreshold: Int
    /// The counts contribution of the created relationships, when `apply` could compute it (see
    /// `CreatedRelationshipCounts`).
    let relationshipCounts = CreatedRelationshipCountsBox()

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
        // In id order over the table and the batch, so the error names the same relationship either way.
        var ends: [(id: Int64, start: Int64, end: Int64)] = state.createdRelationships.map {
            ($0.key, $0.value.startNode.rawValue, $0.value.endNode.rawValue)
        }
        let batch = state.createdRelationshipBatch
        ends.reserveCapacity(ends.count + batch.count)
        for index in batch.ids.indices { ends.append((batch.ids[index], batch.startNodes[index], batch.endNodes[index])) }
        if !(ends.count == batch.count && batch.idsAscending) { ends.sort { $0.id < $1.id } }
        var lastAlive: Int64 = -1
        for (id, start, end) in ends {
            // Consecutive rows of a load often share an end; the check reads a node record.
            let missing =
                try start != lastAlive && !nodeAlive(start) ? start : (try end != lastAlive && !nodeAlive(end) ? end : nil)
            if let missing {
                throw DatabaseError(
                    .entityNotFound, "Cannot create relationship \(id): node \(missing) does not exist (it was deleted)")
            }
            lastAlive = end
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
        if state.createdRelationshipCount > 0 { try linkCreatedRelationships(state) }
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
        let columns = batch.propertySlots
        changes.reserveCreated(
            nodes: batch.count,
            properties: (columns.keys.count + PropertyRecord.blocksPerRecord - 1) / PropertyRecord.blocksPerRecord
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
                let encoded = try PropertyValueCodec.encode(columns.values[slot])
                var payload = encoded.payload
                if let dynamic = encoded.dynamic { payload = changes.writeDynamicChain(.propertyValue, dynamic) }
                blocks.append(
                    PropertyBlock(
                        key: columns.keys[slot], type: encoded.type, inlineLength: encoded.inlineLength,
                        payload: payload))
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
        if recordCount == 1 {
            // The usual case (a few small properties): no id array.
            var record = PropertyRecord()
            record.inUse = true
            record.next = noID
            record.blocks = blocks
            let id = changes.allocate(.property)
            changes.appendCreatedProperty(id, record)
            return id
        }
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
            guard oldIDs.count <= Int(stores.properties.highID) + 1 else {
                throw DatabaseError(.storageDamageDetected, "cycle in property chain \(oldFirst): damaged store")
            }
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
            guard steps <= Int(stores.properties.highID) + 1 else {
                throw DatabaseError(.storageDamageDetected, "cycle in property chain \(first): damaged store")
            }
        }
    }

    // MARK: Relationship chains

    /// Which chain of a dense node's group a relationship belongs to.
    private enum GroupChain: Equatable { case outgoing, incoming, loop }

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
        guard record.inUse else {
            throw DatabaseError(
                .storageDamageDetected, "relationship \(id) links to node \(node), which is not in use: damaged store")
        }
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
    /// time: a node's new relationships are chained to each other in a local array and the old head of each chain
    /// they join (the node's chain when sparse, its group's outgoing, incoming or loop chain when dense) is touched
    /// once, instead of each relationship being linked separately through the record tables (which rewrote the
    /// node or group and the previous head per relationship, and walked a dense node's group chain each time). The
    /// result is the same as linking them one by one in id order: per chain, newest first, then the old chain, the
    /// length in the head's prev pointer; a dense node's missing groups are created in the order of their first
    /// new relationship. Only nodes that become dense in this commit go through `link` as before.
    ///
    /// The relationship counts of the created relationships are summed here too, from each end's labels as they
    /// will be once this commit is applied (`relationshipCounts`), so apply does not read them back per
    /// relationship.
    private func linkCreatedRelationships(_ state: TransactionState) throws {
        // The created relationships in id order (`created[position]`), from the table and the batch, with their
        // records (property chains written) in `records`.
        var created: [Int64] = []
        var records: [RelationshipRecord] = []
        let total = state.createdRelationshipCount
        created.reserveCapacity(total)
        records.reserveCapacity(total)
        for (id, info) in state.createdRelationships {
            var record = RelationshipRecord()
            record.inUse = true
            record.type = info.type
            record.startNode = info.startNode.rawValue
            record.endNode = info.endNode.rawValue
            // writeProperties skips `.null` values (removals of keys a new relationship never had).
            if let props = state.relationshipProperties[id], !props.isEmpty {
                record.nextProp = try writeProperties(oldFirst: noID, changed: props)
            }
            created.append(id)
            records.append(record)
        }
        let batch = state.createdRelationshipBatch
        var blocks: [PropertyBlock] = []
        for index in batch.ids.indices {
            var record = RelationshipRecord()
            record.inUse = true
            record.type = batch.types[index]
            record.startNode = batch.startNodes[index]
            record.endNode = batch.endNodes[index]
            let slots = batch.slots(at: index)
            if !slots.isEmpty {
                // The slots are sorted by key without nulls, as `writeProperties` would order them.
                blocks.removeAll(keepingCapacity: true)
                for slot in slots {
                    let encoded = try PropertyValueCodec.encode(batch.propertySlots.values[slot])
                    var payload = encoded.payload
                    if let dynamic = encoded.dynamic { payload = changes.writeDynamicChain(.propertyValue, dynamic) }
                    blocks.append(
                        PropertyBlock(
                            key: batch.propertySlots.keys[slot], type: encoded.type, inlineLength: encoded.inlineLength,
                            payload: payload))
                }
                record.nextProp = writeNewPropertyChain(blocks)
            }
            created.append(batch.ids[index])
            records.append(record)
        }
        if !(created.count == batch.count && batch.idsAscending) {
            let order = created.indices.sorted { created[$0] < created[$1] }
            created = order.map { created[$0] }
            records = order.map { records[$0] }
        }
        // (node, position in `created`) per end; ordered by node, then by position (= id order).
        var ends: [(node: Int64, position: Int32)] = []
        ends.reserveCapacity(created.count * 2)
        for (position, record) in records.enumerated() {
            ends.append((record.startNode, Int32(position)))
            if record.endNode != record.startNode { ends.append((record.endNode, Int32(position))) }
        }
        ends.sort { $0.node != $1.node ? $0.node < $1.node : $0.position < $1.position }

        var counts = CreatedRelationshipCounter()
        /// Chains `ends[i].position` for i in `members` (ascending) into the chain of `node` headed by `head`;
        /// returns the new head. `setHead` is left to the caller (node record or group).
        func splice(_ node: Int64, _ members: [Int], head: Int64) throws -> Int64 {
            let length = try chainLength(head, node)
            let count = members.count
            for (k, i) in members.enumerated() {
                let position = Int(ends[i].position)
                let next = k == 0 ? head : created[Int(ends[members[k - 1]].position)]
                let isHead = k == count - 1
                let prev = isHead ? length + Int64(count) : created[Int(ends[members[k + 1]].position)]
                records[position].setNext(for: node, next)
                records[position].setPrev(for: node, prev)
                records[position].setFirst(for: node, isHead)
            }
            if head != noID {
                let oldest = created[Int(ends[members[0]].position)]
                try changes.modifyRelationship(head) {
                    $0.setPrev(for: node, oldest)
                    $0.setFirst(for: node, false)
                }
            }
            return created[Int(ends[members[count - 1]].position)]
        }

        var slowNodes: [(node: Int64, range: Range<Int>)] = []
        var members: [Int] = []
        var groupStart = 0
        while groupStart < ends.count {
            let node = ends[groupStart].node
            var groupEnd = groupStart + 1
            while groupEnd < ends.count && ends[groupEnd].node == node { groupEnd += 1 }
            defer { groupStart = groupEnd }
            let nodeRecord = try changes.node(node)
            guard nodeRecord.inUse else {
                throw DatabaseError(
                    .storageDamageDetected, "relationships link to node \(node), which is not in use: damaged store")
            }
            counts.addEnd(node, nodeRecord, state, ends[groupStart..<groupEnd].lazy.map { records[Int($0.position)] })
            let head = nodeRecord.nextRel
            let count = groupEnd - groupStart
            if nodeRecord.dense {
                // One pass per (type, chain), in the order of each one's first new relationship: that is the order
                // linking one by one would create missing groups in.
                var done = [Bool](repeating: false, count: count)
                for first in 0..<count where !done[first] {
                    let firstRecord = records[Int(ends[groupStart + first].position)]
                    let type = firstRecord.type
                    let chain = groupChain(firstRecord, node)
                    members.removeAll(keepingCapacity: true)
                    for k in first..<count where !done[k] {
                        let record = records[Int(ends[groupStart + k].position)]
                        if record.type == type && groupChain(record, node) == chain {
                            members.append(groupStart + k)
                            done[k] = true
                        }
                    }
                    let groupID = try findGroup(node, type, create: true)!
                    let oldHead = self.head(try changes.group(groupID), chain)
                    let newHead = try splice(node, members, head: oldHead)
                    try changes.modifyGroup(groupID) { setHead(&$0, chain, newHead) }
                }
                continue
            }
            let length = try chainLength(head, node)
            // `link` converts a node when the chain it links into is already at the threshold.
            if denseNodeThreshold > 0 && length + Int64(count) - 1 >= Int64(denseNodeThreshold) {
                slowNodes.append((node, groupStart..<groupEnd))
                continue
            }
            members.removeAll(keepingCapacity: true)
            members.append(contentsOf: groupStart..<groupEnd)
            let newHead = try splice(node, members, head: head)
            try changes.modifyNode(node) { $0.nextRel = newHead }
        }
        if slowNodes.isEmpty {
            // Complete: nothing else in this commit loads them (old heads and groups are older records).
            for (position, id) in created.enumerated() { changes.appendCreatedRelationship(id, records[position]) }
        } else {
            for (position, id) in created.enumerated() { changes.setRelationship(id, records[position]) }
        }
        // Each end's fields are only written for that end, so the records in the table are complete for the
        // ends spliced above; nodes crossing the threshold are converted and linked now, in id order as before.
        for (node, range) in slowNodes {
            for i in range { try link(created[Int(ends[i].position)], into: node) }
        }
        for record in records { counts.addTotal(type: record.type) }
        relationshipCounts.result = counts.finish(created: created)
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
            guard headID == id else {
                throw DatabaseError(
                    .storageDamageDetected,
                    "relationship \(id) is flagged first for node \(node) but the head is \(headID): damaged store")
            }
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
            guard ids.count <= Int(stores.relationships.highID) + 1 else {
                throw DatabaseError(.storageDamageDetected, "cycle in chain of node \(node): the store is damaged")
            }
        }
        try changes.modifyNode(node) {
            $0.dense = true
            $0.nextRel = noID
        }
        // Re-link in reverse so each group chain keeps the original relative order.
        for relID in ids.reversed() { try link(relID, into: node) }
    }
}

/// The counts contribution of a commit's created relationships, computed while they are spliced, and the sorted
/// ids it covers: apply adds `delta` instead of reading each of these relationships and both its end nodes back.
/// Exact because the preparer sees every earlier commit's records (through the pending after-images) and this
/// commit's own label changes, and commits are applied in log order. Recovery and replication, which only have the
/// log, still count from the records (same result).
struct CreatedRelationshipCounts {
    var delta: [CountsKey: Int]
    var created: [Int64]
}

final class CreatedRelationshipCountsBox {
    var result: CreatedRelationshipCounts?
}

/// Sums created relationships' counts per end node; gives up (nil result) at the first end whose labels are not at
/// hand (a label chain longer than the inline labels, read from the store only).
struct CreatedRelationshipCounter {
    private var delta: [CountsKey: Int] = [:]
    private var known = true
    /// Relationships per type, for the `(*, t, *)` keys (a load uses one or two types).
    private var totals: [(type: Int32, count: Int)] = []
    /// Per end node: new relationships per (type, side), reused between nodes.
    private var sides: [(type: Int32, outgoing: Bool, count: Int)] = []

    mutating func addEnd<S: Sequence>(_ node: Int64, _ record: NodeRecord, _ state: TransactionState, _ rels: S)
    where S.Element == RelationshipRecord {
        guard known else { return }
        let labels: [Int32]
        if let changed = state.nodeLabels[node] {
            labels = changed.count < 2 ? changed : Array(Set(changed))
        } else if record.labelOverflow == noID {
            labels = record.inlineLabels
        } else {
            known = false
            return
        }
        guard !labels.isEmpty else { return }
        sides.removeAll(keepingCapacity: true)
        func add(_ type: Int32, _ outgoing: Bool) {
            if let i = sides.firstIndex(where: { $0.type == type && $0.outgoing == outgoing }) {
                sides[i].count += 1
            } else {
                sides.append((type, outgoing, 1))
            }
        }
        for rel in rels {
            if rel.startNode == node { add(rel.type, true) }
            if rel.endNode == node { add(rel.type, false) }
        }
        for side in sides {
            CountsContribution.relationshipEnd(
                type: side.type, labels: labels, outgoing: side.outgoing, count: side.count, into: &delta)
        }
    }

    mutating func addTotal(type: Int32) {
        if let last = totals.indices.last, totals[last].type == type {
            totals[last].count += 1
        } else if let i = totals.firstIndex(where: { $0.type == type }) {
            totals[i].count += 1
        } else {
            totals.append((type, 1))
        }
    }

    func finish(created: [Int64]) -> CreatedRelationshipCounts? {
        guard known else { return nil }
        var delta = self.delta
        for total in totals { CountsContribution.relationshipTotal(type: total.type, count: total.count, into: &delta) }
        return CreatedRelationshipCounts(delta: delta, created: created)
    }
}
