import GraphValues

extension GraphDatabase {
    /// The committed schema with a transaction's schema changes applied; validates new constraints against the
    /// existing data. Must hold `commitMutex`.
    func prepareSchema(_ state: TransactionState) throws -> SchemaRules {
        var rules = schema
        for name in state.droppedConstraints {
            rules.constraints.removeAll { $0.name == name }
            rules.indexes.removeAll { $0.name == name && $0.isUnique }
        }
        for name in state.droppedIndexes { rules.indexes.removeAll { $0.name == name } }
        for index in state.createdIndexes {
            if rules.indexes.contains(where: { $0.label == index.label && $0.propertyKey == index.propertyKey }) {
                throw DatabaseError(
                    .equivalentSchemaRuleAlreadyExists, "An equivalent index already exists for (\(index.label), \(index.propertyKey))")
            }
            var online = index
            online.state = .online
            rules.indexes.append(online)
        }
        for constraint in state.createdConstraints {
            if rules.constraints.contains(where: { $0.label == constraint.label && $0.propertyKey == constraint.propertyKey }) {
                throw DatabaseError(.equivalentSchemaRuleAlreadyExists, "An equivalent constraint already exists")
            }
            rules.indexes.removeAll { $0.label == constraint.label && $0.propertyKey == constraint.propertyKey }
            rules.constraints.append(constraint)
            rules.indexes.append(
                IndexDescriptor(
                    name: constraint.name, label: constraint.label, propertyKey: constraint.propertyKey, isUnique: true,
                    state: .online))
            try storeRW.withReadLock { try checkExistingDataUnique(constraint) }
        }
        return rules
    }

    private func checkExistingDataUnique(_ constraint: ConstraintDescriptor) throws {
        var seen: [IndexKey: Int64] = [:]
        for node in labelScan.nodes(constraint.label) {
            let record = try stores.node(node)
            let value = try stores.property(from: record.nextProp, key: constraint.propertyKey)
            if value.isNull { continue }
            let key = IndexKey(value)
            if let other = seen[key] {
                let label = stores.labelTokens.name(of: constraint.label) ?? "\(constraint.label)"
                let property = stores.propertyKeyTokens.name(of: constraint.propertyKey) ?? "\(constraint.propertyKey)"
                throw DatabaseError(
                    .constraintValidationFailed,
                    "Unable to create CONSTRAINT ON ( n:\(label) ) ASSERT n.\(property) IS UNIQUE: both node(\(other)) "
                        + "and node(\(node)) have label `\(label)` and property `\(property)` = \(describe(value))")
            }
            seen[key] = node
        }
    }

    /// Installs a new schema: drops removed indexes, builds and populates new ones, persists the rules.
    /// Must hold the store lock exclusively.
    ///
    /// A constraint's index, or an index on a label with few nodes, is populated right here (ONLINE when the
    /// commit returns). Any other new index is installed POPULATING and filled by a background job
    /// (`populateInBackground`); commits keep it up to date meanwhile like any other index, and queries do not
    /// use it until it is ONLINE.
    func applySchema(_ rules: SchemaRules) throws {
        let newNames = Set(rules.indexes.map(\.name))
        for name in indexes.keys where !newNames.contains(name) { indexes.removeValue(forKey: name) }
        do {
            // A dropped FAILED index is forgotten on disk too (before a new one of the same name can fail).
            try persistIndexFailuresIfChanged()
        } catch {
            // The commit is durable; the next checkpoint writes the file again.
            configuration.logger.warning("Could not update the recorded index failures: \(Self.clientError(error))")
        }
        for descriptor in rules.indexes where indexes[descriptor.name] == nil {
            let labelled = counts[.node(descriptor.label)] ?? 0
            if descriptor.isUnique || labelled <= configuration.indexPopulationInlineLimit {
                try populateIndex(descriptor)
            } else {
                var populating = descriptor
                populating.state = .populating(progress: 0)
                let index = PropertyIndex(descriptor: populating)
                indexes[descriptor.name] = index
                populateInBackground(index)
            }
        }
        setSchema(rules)
        try writeFileAtomically(fileSystem, directory + "/" + SchemaRules.fileName, rules.serialize())
    }

    /// Fails the commit if, after it, two nodes with a constrained label would share the constrained value.
    /// Must hold the store lock (shared) and `commitMutex`.
    /// `touched` is `state.touchedNodes`, as a set and in id order (the commit computes it once: its log entry
    /// needs it too).
    func validateUniqueness(_ state: TransactionState, touched: Set<Int64>, inOrder sortedTouched: [Int64]) throws {
        guard !schema.constraints.isEmpty else { return }
        let batch = state.createdBatch
        // Table nodes and batch nodes in one id order (the batch is disjoint from the tables), so the node named
        // in a violation is the same whichever way the nodes were created.
        var order: [(id: Int64, batchIndex: Int)] = []
        if batch.isEmpty {
            order = sortedTouched.map { ($0, -1) }
        } else {
            let batchOrder = batch.indicesInIDOrder()
            order.reserveCapacity(sortedTouched.count + batchOrder.count)
            var j = 0
            for index in batchOrder {
                let id = batch.ids[index]
                while j < sortedTouched.count && sortedTouched[j] < id {
                    order.append((sortedTouched[j], -1))
                    j += 1
                }
                order.append((id, index))
            }
            while j < sortedTouched.count {
                order.append((sortedTouched[j], -1))
                j += 1
            }
        }
        for constraint in schema.constraints {
            guard let index = indexes[constraint.name] else { continue }
            var claimed: [IndexKey: Int64] = [:]
            claimed.reserveCapacity(order.count)
            let batchSetApplies = batch.labelSets.map { $0.contains(constraint.label) }
            for (node, batchIndex) in order {
                let value: Value
                if batchIndex >= 0 {
                    guard batchSetApplies[Int(batch.labelSetOfNode[batchIndex])],
                        let set = batch.value(at: batchIndex, key: constraint.propertyKey)
                    else { continue }
                    value = set
                } else {
                    if state.deletedNodes.contains(node) { continue }
                    let labels = try state.nodeLabels[node] ?? stores.labels(of: try stores.node(node))
                    guard labels.contains(constraint.label) else { continue }
                    if let changed = state.nodeProperties[node]?[constraint.propertyKey] {
                        value = changed
                    } else if state.createdNodes.contains(node) {
                        value = .null
                    } else {
                        value = try stores.property(from: try stores.node(node).nextProp, key: constraint.propertyKey)
                    }
                }
                if value.isNull { continue }
                let key = IndexKey(value)
                var other = claimed[key]
                if other == nil {
                    // Batch nodes have fresh ids, never committed holders, so `touched` need not list them.
                    for holder in index.nodes(equal: value) where !touched.contains(holder) {
                        other = Swift.min(other ?? holder, holder)
                    }
                }
                if let other {
                    let label = stores.labelTokens.name(of: constraint.label) ?? "\(constraint.label)"
                    let property = stores.propertyKeyTokens.name(of: constraint.propertyKey) ?? "\(constraint.propertyKey)"
                    throw DatabaseError(
                        .constraintValidationFailed,
                        "Node(\(other)) already exists with label `\(label)` and property `\(property)` = "
                            + describe(value))
                }
                claimed[key] = node
            }
        }
    }

    func describe(_ value: Value) -> String {
        switch value {
        case .string(let s): return "'\(s)'"
        case .integer(let i): return "\(i)"
        case .float(let d): return "\(d)"
        case .boolean(let b): return "\(b)"
        default: return "\(value)"
        }
    }
}
