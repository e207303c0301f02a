import GraphValues

extension GraphDatabase {
    /// Fills a POPULATING index from the nodes that had its label when it was created, in steps, then marks it
    /// ONLINE; an error marks it FAILED with the reason (queries never use it, `indexes()` shows why).
    ///
    /// Each step holds the store lock exclusively, re-checks each node's current label and reads its current value,
    /// so a step never races a commit: commits applied between steps update the index themselves (it is in
    /// `indexes`), nodes that got the label after the start are added by those commits, and adding a value twice
    /// is harmless (entries are sets). The job ends early when the index is dropped or the database closes.
    /// A failure is recorded in `neostore.indexfailures.db` (`IndexFailures`), so the index is FAILED again after a
    /// restart; an index still POPULATING at a restart is populated again, inline, at open.
    func populateInBackground(_ index: PropertyIndex) {
        let descriptor = index.descriptor
        let hook = configuration.beforeIndexPopulationStep
        let batchSize = max(1, configuration.indexPopulationBatchSize)
        let logger = configuration.logger
        startDetachedThread { [weak self] in
            guard let nodes = self?.storeRW.withReadLock({ self?.labelScan.nodes(descriptor.label) }) else { return }
            var done = 0
            while true {
                hook?(descriptor.name, done)
                guard let db = self else { return }
                let outcome: PopulationStep = db.storeRW.withWriteLock {
                    guard !db.isClosed, db.indexes[descriptor.name] === index else { return .abandoned }
                    do {
                        let end = min(nodes.count, done + batchSize)
                        for node in nodes[done..<end] where db.labelScan.contains(descriptor.label, node) {
                            let record = try db.stores.node(node)
                            let value = try db.stores.property(from: record.nextProp, key: descriptor.propertyKey)
                            if !value.isNull { index.add(value, node) }
                        }
                        done = end
                        if done == nodes.count {
                            index.descriptor.state = .online
                            return .finished
                        }
                        index.descriptor.state = .populating(progress: Double(done) / Double(nodes.count))
                        return .continuing
                    } catch {
                        let reason = "Population of index \(descriptor.name) failed: \(Self.clientError(error))"
                        index.descriptor.state = .failed(reason)
                        do {
                            // Stays FAILED across restarts until dropped.
                            try db.persistIndexFailuresIfChanged()
                        } catch {
                            // Likely the same I/O trouble: the next checkpoint writes it (or fails loudly).
                            logger.warning(
                                "Could not record the failure of index \(descriptor.name) yet: \(Self.clientError(error))")
                        }
                        return .failed(reason)
                    }
                }
                switch outcome {
                case .continuing: continue
                case .finished:
                    logger.info("Index population finished", metadata: ["index": "\(descriptor.name)", "nodes": "\(nodes.count)"])
                    return
                case .failed(let reason):
                    logger.error("\(reason)", metadata: ["index": "\(descriptor.name)"])
                    return
                case .abandoned: return
                }
            }
        }
    }
}

private enum PopulationStep {
    case continuing
    case finished
    case failed(String)
    case abandoned
}
