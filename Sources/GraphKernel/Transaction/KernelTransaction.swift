import Atomics
import GraphValues

/// A kernel transaction: reads see committed data plus this transaction's own changes (read committed).
///
/// Not thread-safe: one thread uses a transaction at a time, except `terminate()`, which any thread may call;
/// the next operation then throws `Terminated`. Time-outs are checked on every operation, so long reads stop.
public final class KernelTransaction: GraphWriteOperations, @unchecked Sendable {
    enum Status { case open, committed, rolledBack }

    let database: GraphDatabase
    public let mode: TransactionMode
    private let deadlineNanos: UInt64?
    private let timeout: Duration?
    private let terminated = ManagedAtomic<Bool>(false)
    private static let ownerCounter = ManagedAtomic<UInt64>(0)
    /// This transaction's identity in the lock manager.
    public let lockOwner: LockOwner
    private var status = Status.open
    /// This transaction's changes. Only node creation's fast path and the commit use it directly; everything else
    /// goes through `state`, which first moves the batch of created nodes into the per-node tables.
    private var storedState = TransactionState()
    /// The transaction's changes with no batch of created nodes pending (see `CreatedNodeBatch`), so reads and
    /// other writes see every created node in the per-node tables.
    /// The same for the batch of created relationships (`CreatedRelationshipBatch`).
    var state: TransactionState {
        _read {
            if !storedState.createdBatch.isEmpty { storedState.materializeCreatedBatch() }
            if !storedState.createdRelationshipBatch.isEmpty { storedState.materializeCreatedRelationships() }
            yield storedState
        }
        _modify {
            if !storedState.createdBatch.isEmpty { storedState.materializeCreatedBatch() }
            if !storedState.createdRelationshipBatch.isEmpty { storedState.materializeCreatedRelationships() }
            yield &storedState
        }
    }
    /// The node state only (the batch of created nodes moved into the per-node tables), leaving a batch of created
    /// relationships in place: for node checks on the relationship creation path.
    private var nodeState: TransactionState {
        _read {
            if !storedState.createdBatch.isEmpty { storedState.materializeCreatedBatch() }
            yield storedState
        }
    }
    /// The last relationship type `createRelationship` found to be a token (-1: none yet).
    private var lastCheckedRelationshipType: RelationshipTypeToken = -1
    /// Node/relationship ids this transaction allocated (returned to the generator unless committed in use).
    private var allocatedNodes: [Int64] = []
    private var allocatedRelationships: [Int64] = []
    /// Scratch of the multi-node expansion, kept so a breadth-first search allocates it once.
    private var batchEntries: [AdjacencyEntry?] = []
    /// The id reuse generation when this transaction began (`IDReuseGate`).
    private let reuseGeneration: UInt64

    init(database: GraphDatabase, mode: TransactionMode, timeout: Duration?) {
        self.database = database
        self.mode = mode
        self.timeout = timeout
        self.lockOwner = LockOwner(Self.ownerCounter.loadThenWrappingIncrement(ordering: .relaxed) + 1)
        if let timeout {
            let c = timeout.components
            let nanos = UInt64(max(0, c.seconds)) * 1_000_000_000 + UInt64(max(0, c.attoseconds / 1_000_000_000))
            deadlineNanos = monotonicNanos() &+ nanos
        } else {
            deadlineNanos = nil
        }
        database.counters.transactionStarted(write: mode == .write)
        reuseGeneration = database.idReuse.opened()
    }

    deinit {
        if status == .open { rollback() }
    }

    private var stores: NeoStores { database.stores }

    public var isOpen: Bool { status == .open }

    // MARK: Lifecycle

    /// Commits. On failure nothing is committed and the transaction is rolled back.
    ///
    /// Returns the id the commit got in the transaction log (exact bookmarks), or nil when the transaction changed
    /// nothing and so wrote no log entry (read-only transactions, empty write transactions).
    @discardableResult
    public func commit() throws -> TxID? {
        try checkUsable()
        defer { if status == .open { rollback() } }
        var committedTxID: TxID?
        var committed: CommittedTransaction?
        if !storedState.isEmpty {
            try lockRelationshipEnds()
            (committedTxID, committed) = try database.commit(storedState, owner: lockOwner, checkpoint: !avoidsWaiting)
        }
        status = .committed
        database.counters.transactionFinished(
            beganAsWrite: mode == .write, wrote: committedTxID != nil, committed: true, terminated: false)
        database.locks.releaseAll(lockOwner)
        // Ids allocated for nodes created and then deleted here go back; a created node is in the batch or the set.
        var deletedNew: [Int64] = []
        if allocatedNodes.count != storedState.createdBatch.count + storedState.createdNodes.count {
            let created = storedState.createdNodes.union(storedState.createdBatch.ids)
            deletedNew = allocatedNodes.filter { !created.contains($0) }
        }
        // Ids allocated for relationships created and then deleted here go back (a deleted one left the batch).
        var deletedNewRels: [Int64] = []
        if allocatedRelationships.count != storedState.createdRelationshipCount {
            deletedNewRels = allocatedRelationships.filter { storedState.createdRelationships[$0] == nil }
        }
        stores.nodes.release(deletedNew)
        stores.relationships.release(deletedNewRels)
        database.transactionClosed(reuseGeneration: reuseGeneration)
        // HA: after the locks are gone (pushing may wait for slaves); an error here leaves the tx committed.
        try database.replicationHooks.committed(committed)
        return committedTxID
    }

    /// Discards every change. Safe to call more than once.
    public func rollback() {
        finishRollback(countingTimeOut: true)
    }

    /// Discards every change of an attempt whose time-out was its caller's budget, not the client's, and which
    /// the caller runs again another way (the Bolt event loop's bounded read, retried on the worker): counted as
    /// rolled back, but not as terminated, since no client transaction was. Safe to call more than once.
    public func rollbackAbandonedAttempt() {
        finishRollback(countingTimeOut: false)
    }

    private func finishRollback(countingTimeOut: Bool) {
        guard status == .open else { return }
        status = .rolledBack
        let timedOut = countingTimeOut && (deadlineNanos.map { monotonicNanos() > $0 } ?? false)
        database.counters.transactionFinished(
            beganAsWrite: mode == .write, wrote: !storedState.isEmpty, committed: false,
            terminated: terminated.load(ordering: .relaxed) || timedOut)
        database.locks.releaseAll(lockOwner)
        stores.nodes.release(allocatedNodes)
        stores.relationships.release(allocatedRelationships)
        storedState = TransactionState()
        database.transactionClosed(reuseGeneration: reuseGeneration)
    }

    /// Marks the transaction terminated (from any thread); its next operation throws `Terminated`.
    public func terminate() {
        terminated.store(true, ordering: .releasing)
        // Wake the transaction if it is waiting for a lock.
        database.locks.terminate(
            lockOwner,
            reason: DatabaseError(
                .transactionTerminated,
                "The transaction has been terminated. Retry your operation in a new transaction, and you should see "
                    + "a successful result. Explicitly terminated by the user."))
    }

    /// A node lock this transaction holds, or will take at commit.
    private enum NodeLock { case sharedAtCommit, shared, exclusive }

    /// Node locks this transaction already holds (locks are only released all at once, at its end), so that
    /// touching the same node again, as a batch of relationships on one node does, skips the lock manager.
    private var heldNodeLocks: [Int64: NodeLock] = [:]

    /// End nodes of relationships this transaction created, whose shared locks are taken together at commit
    /// (`lockRelationshipEnds`). Those locks only keep the ends from being deleted before the relationships are
    /// committed, and the commit re-checks that the ends exist after taking them (`CommitPreparer.validate`), so
    /// taking them late loses nothing; a batch of 10,000 relationships then costs one lock-manager round trip
    /// instead of one per end node. (The chains themselves are spliced under the commit mutex.)
    private var endNodesToLock: [Int64] = []

    /// Takes a lock for this transaction, waiting at most until the transaction's deadline.
    private func lock(_ resource: LockResource, _ mode: LockMode) throws {
        if case .node(let node) = resource {
            switch (heldNodeLocks[node.rawValue], mode) {
            case (.exclusive, _), (.shared, .shared): return
            default: break
            }
            try acquireLock(resource, mode)
            heldNodeLocks[node.rawValue] = mode == .exclusive ? .exclusive : .shared
            return
        }
        try acquireLock(resource, mode)
    }

    /// Takes the shared locks of `endNodesToLock`, in ascending id order (one global order, so two such batches
    /// wait for each other rather than deadlock; waits that still close a cycle are detected as usual).
    private func lockRelationshipEnds() throws {
        guard !endNodesToLock.isEmpty else { return }
        endNodesToLock.sort()
        var resources: [LockResource] = []
        resources.reserveCapacity(endNodesToLock.count)
        for node in endNodesToLock { resources.append(.node(NodeID(node))) }
        endNodesToLock = []
        var wait: Duration?
        if let deadline = deadlineNanos {
            let now = monotonicNanos()
            wait = .nanoseconds(Int64(deadline > now ? deadline - now : 0))
        }
        if avoidsWaiting { wait = .zero }
        try database.locks.acquire(all: resources, .shared, for: lockOwner, timeout: wait)
    }

    private func acquireLock(_ resource: LockResource, _ mode: LockMode) throws {
        try database.locks.acquire(resource, mode, for: lockOwner, timeout: lockWait())
    }

    /// How long a lock may be waited for: until the deadline, not at all after `avoidWaiting()`, else without
    /// limit (nil).
    private func lockWait() -> Duration? {
        if avoidsWaiting { return .zero }
        guard let deadline = deadlineNanos else { return nil }
        let now = monotonicNanos()
        return .nanoseconds(Int64(deadline > now ? deadline - now : 0))
    }

    /// Set by `avoidWaiting()`.
    private var avoidsWaiting = false

    /// Before any work: this transaction runs on a thread that must not block (the Bolt event loop). Every lock
    /// another transaction holds fails the operation at once with `LockAcquisitionTimeout`, and its commit leaves
    /// a due checkpoint to the database's checkpoint timer instead of running it. The commit still waits for the
    /// log's sync (a durable commit has to) and for commits already written to the log to be applied: those before
    /// it, and one that claimed a unique value it claims too (they are waiting for the same sync or an earlier
    /// one).
    public func avoidWaiting() {
        avoidsWaiting = true
    }

    public var isTerminated: Bool { terminated.load(ordering: .acquiring) }

    @inline(__always) public func checkUsable() throws {
        guard status == .open else {
            throw DatabaseError(.transactionNotFound, "The transaction has already been \(status == .committed ? "committed" : "rolled back")")
        }
        if terminated.load(ordering: .relaxed) {
            throw DatabaseError(
                .transactionTerminated,
                "The transaction has been terminated. Retry your operation in a new transaction, and you should see "
                    + "a successful result. Explicitly terminated by the user.")
        }
        if let deadline = deadlineNanos, monotonicNanos() > deadline {
            throw DatabaseError(
                .transactionTimedOut,
                "The transaction has been terminated. Retry your operation in a new transaction, and you should see "
                    + "a successful result. The transaction has not completed within the specified timeout "
                    + "(dbms.transaction.timeout). You may want to retry with a longer timeout.")
        }
    }

    private func checkWritable() throws {
        try checkUsable()
        guard mode == .write else {
            throw DatabaseError(.accessMode, "Writing in read access mode not allowed.")
        }
    }

    private func checkDataWrite() throws {
        try checkWritable()
        if storedState.hasSchemaChanges {
            throw DatabaseError(
                .invalidRequest, "Cannot perform data updates in a transaction that has performed schema updates.")
        }
    }

    private func checkSchemaWrite() throws {
        try checkWritable()
        if state.hasDataChanges {
            throw DatabaseError(
                .invalidRequest, "Cannot perform schema updates in a transaction that has performed data updates.")
        }
    }

    @inline(__always) private func committed<T>(_ body: () throws -> T) rethrows -> T {
        try database.storeRW.withReadLock(body)
    }

    private func nodeNotFound(_ node: NodeID) -> DatabaseError {
        DatabaseError(.entityNotFound, "Node with id \(node.rawValue) has been deleted in this transaction or does not exist")
    }

    private func relationshipNotFound(_ rel: RelationshipID) -> DatabaseError {
        DatabaseError(
            .entityNotFound, "Relationship with id \(rel.rawValue) has been deleted in this transaction or does not exist")
    }

    // MARK: Tokens

    public func labelToken(_ name: String) throws -> LabelToken? {
        try checkUsable()
        return stores.labelTokens.id(of: name)
    }

    public func relationshipTypeToken(_ name: String) throws -> RelationshipTypeToken? {
        try checkUsable()
        return stores.relationshipTypeTokens.id(of: name)
    }

    public func propertyKeyToken(_ name: String) throws -> PropertyKeyToken? {
        try checkUsable()
        return stores.propertyKeyTokens.id(of: name)
    }

    private func tokenName(_ cache: TokenCache, _ token: Int32, _ what: String) throws -> String {
        try checkUsable()
        guard let name = cache.name(of: token) else {
            throw DatabaseError(.entityNotFound, "No \(what) token with id \(token)")
        }
        return name
    }

    public func labelName(_ token: LabelToken) throws -> String { try tokenName(stores.labelTokens, token, "label") }
    public func relationshipTypeName(_ token: RelationshipTypeToken) throws -> String {
        try tokenName(stores.relationshipTypeTokens, token, "relationship type")
    }
    public func propertyKeyName(_ token: PropertyKeyToken) throws -> String {
        try tokenName(stores.propertyKeyTokens, token, "property key")
    }

    public func allLabels() throws -> [(LabelToken, String)] {
        try checkUsable()
        return stores.labelTokens.all
    }

    public func allRelationshipTypes() throws -> [(RelationshipTypeToken, String)] {
        try checkUsable()
        return stores.relationshipTypeTokens.all
    }

    public func allPropertyKeys() throws -> [(PropertyKeyToken, String)] {
        try checkUsable()
        return stores.propertyKeyTokens.all
    }

    public func getOrCreateLabelToken(_ name: String) throws -> LabelToken {
        try checkUsable()
        return try database.getOrCreateToken(.label, name)
    }

    public func getOrCreateRelationshipTypeToken(_ name: String) throws -> RelationshipTypeToken {
        try checkUsable()
        return try database.getOrCreateToken(.relationshipType, name)
    }

    public func getOrCreatePropertyKeyToken(_ name: String) throws -> PropertyKeyToken {
        try checkUsable()
        return try database.getOrCreateToken(.propertyKey, name)
    }

    // MARK: Nodes (reads)

    /// Existence with the overlay, without the usability check (callers did it).
    @inline(__always) private func nodeAlive(_ id: Int64) throws -> Bool {
        if !nodeState.deletedNodes.isEmpty && nodeState.deletedNodes.contains(id) { return false }
        if !nodeState.createdNodes.isEmpty && nodeState.createdNodes.contains(id) { return true }
        return try committed { try stores.nodeInUse(id) }
    }

    public func nodeExists(_ node: NodeID) throws -> Bool {
        try checkUsable()
        return try nodeAlive(node.rawValue)
    }

    public func nodeDeletedElsewhere(_ node: NodeID) throws -> Bool {
        try checkUsable()
        let id = node.rawValue
        if state.deletedNodes.contains(id) || state.createdNodes.contains(id) { return false }
        return try committed {
            guard id >= 0, id < stores.nodes.highID else { return false }
            return try !stores.nodeInUse(id)
        }
    }

    public func allNodes() throws -> AnyIterator<NodeID> {
        try checkUsable()
        let high = max(stores.nodes.highID, (state.createdNodes.max() ?? -1) + 1)
        var next: Int64 = 0
        return AnyIterator { [self] in
            while next < high {
                let id = next
                next += 1
                if (try? self.checkUsable()) == nil { return nil }
                if (try? self.nodeAlive(id)) == true { return NodeID(id) }
            }
            return nil
        }
    }

    public func nodes(withLabel label: LabelToken) throws -> AnyIterator<NodeID> {
        try checkUsable()
        var ids = committed { database.labelScan.nodes(label) }
        if !state.isEmpty {
            var result = Set(ids.filter { !state.deletedNodes.contains($0) && (state.nodeLabels[$0]?.contains(label) ?? true) })
            for (node, labels) in state.nodeLabels where labels.contains(label) && !state.deletedNodes.contains(node) {
                result.insert(node)
            }
            ids = result.sorted()
        }
        var iterator = ids.makeIterator()
        return AnyIterator { [self] in
            if (try? self.checkUsable()) == nil { return nil }
            return iterator.next().map(NodeID.init)
        }
    }

    private func currentLabels(_ id: Int64) throws -> [Int32] {
        if let labels = state.nodeLabels[id] { return labels }
        if state.createdNodes.contains(id) { return [] }
        return try committed { try stores.labels(of: try stores.node(id)) }
    }

    public func labels(of node: NodeID) throws -> [LabelToken] {
        try checkUsable()
        guard try nodeAlive(node.rawValue) else { throw nodeNotFound(node) }
        return try currentLabels(node.rawValue)
    }

    public func hasLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool {
        try labels(of: node).contains(label)
    }

    public func nodeProperty(_ node: NodeID, _ key: PropertyKeyToken) throws -> Value {
        try checkUsable()
        let id = node.rawValue
        if !state.isEmpty {
            guard try nodeAlive(id) else { throw nodeNotFound(node) }
            if let value = state.nodeProperties[id]?[key] { return value }
            if state.createdNodes.contains(id) { return .null }
        }
        return try committed {
            guard id >= 0, id < stores.nodes.highID, let value = try stores.nodeProperty(id, key: key) else {
                throw nodeNotFound(node)
            }
            return value
        }
    }

    public func nodeProperties(_ node: NodeID, keys: [PropertyKeyToken], into values: inout [Value]) throws {
        try checkUsable()
        let id = node.rawValue
        if !state.isEmpty {
            for (i, key) in keys.enumerated() { values[i] = try nodeProperty(node, key) }
            return
        }
        try committed {
            guard id >= 0, id < stores.nodes.highID, try stores.nodeProperties(id, keys: keys, into: &values) else {
                throw nodeNotFound(node)
            }
        }
    }

    public func nodeProperties(_ nodes: [NodeID], keys: [PropertyKeyToken], into values: inout [Value]) throws {
        try checkUsable()
        if !state.isEmpty || keys.isEmpty {
            var one = [Value](repeating: .null, count: keys.count)
            for (n, node) in nodes.enumerated() {
                try nodeProperties(node, keys: keys, into: &one)
                for i in 0..<keys.count { values[n * keys.count + i] = one[i] }
            }
            return
        }
        let ids = nodes.map(\.rawValue)
        let high = try committed { stores.nodes.highID }
        if let bad = ids.firstIndex(where: { $0 < 0 || $0 >= high }) { throw nodeNotFound(nodes[bad]) }
        if let missing = try committed({ try stores.nodeProperties(ids, keys: keys, into: &values) }) {
            throw nodeNotFound(nodes[missing])
        }
    }

    /// Committed data is read as raw blocks straight from the store; with uncommitted changes in this transaction
    /// (or no keys) the `Value` read is converted, so the transaction's own writes are seen.
    public func rawNodeProperties(_ nodes: [NodeID], keys: [PropertyKeyToken], into raw: inout [RawProperty],
                                  decoded: inout [Value]) throws {
        try checkUsable()
        precondition(raw.count == nodes.count * keys.count,
                     "rawNodeProperties: \(raw.count) slots for \(nodes.count) × \(keys.count)")
        if !state.isEmpty || keys.isEmpty {
            var values = [Value](repeating: .null, count: raw.count)
            try nodeProperties(nodes, keys: keys, into: &values)
            for i in 0..<values.count { raw[i] = RawProperty.from(values[i], decoded: &decoded) }
            return
        }
        let ids = nodes.map(\.rawValue)
        let high = try committed { stores.nodes.highID }
        if let bad = ids.firstIndex(where: { $0 < 0 || $0 >= high }) { throw nodeNotFound(nodes[bad]) }
        if let missing = try committed({ try stores.rawNodeProperties(ids, keys: keys, into: &raw, decoded: &decoded) }) {
            throw nodeNotFound(nodes[missing])
        }
    }

    public func nodeProperties(_ node: NodeID) throws -> [(PropertyKeyToken, Value)] {
        try checkUsable()
        let id = node.rawValue
        guard try nodeAlive(id) else { throw nodeNotFound(node) }
        var props: [(Int32, Value)] = []
        if !state.createdNodes.contains(id) {
            props = try committed { try stores.properties(from: try stores.node(id).nextProp) }
        }
        return merge(props, state.nodeProperties[id])
    }

    private func merge(_ committed: [(Int32, Value)], _ changes: [Int32: Value]?) -> [(Int32, Value)] {
        guard let changes, !changes.isEmpty else { return committed }
        var out = committed.filter { changes[$0.0] == nil }
        for (key, value) in changes.sorted(by: { $0.key < $1.key }) where !value.isNull { out.append((key, value)) }
        return out
    }

    // MARK: Relationships (reads)

    @inline(__always) private func relationshipAlive(_ id: Int64) throws -> Bool {
        if !state.deletedRelationships.isEmpty && state.deletedRelationships.contains(id) { return false }
        if state.createdRelationships[id] != nil { return true }
        return try committed { try stores.relationshipInUse(id) }
    }

    public func relationshipExists(_ rel: RelationshipID) throws -> Bool {
        try checkUsable()
        return try relationshipAlive(rel.rawValue)
    }

    public func relationship(_ rel: RelationshipID) throws -> RelationshipInfo {
        try checkUsable()
        if let info = state.createdRelationships[rel.rawValue] { return info }
        if state.deletedRelationships.contains(rel.rawValue) { throw relationshipNotFound(rel) }
        return try committed {
            guard rel.rawValue >= 0, rel.rawValue < stores.relationships.highID else { throw relationshipNotFound(rel) }
            let record = try stores.relationship(rel.rawValue)
            guard record.inUse else { throw relationshipNotFound(rel) }
            return RelationshipInfo(
                id: rel, type: record.type, startNode: NodeID(record.startNode), endNode: NodeID(record.endNode))
        }
    }

    public func allRelationships() throws -> AnyIterator<RelationshipInfo> {
        try checkUsable()
        let high = max(stores.relationships.highID, (state.createdRelationships.keys.max() ?? -1) + 1)
        var next: Int64 = 0
        return AnyIterator { [self] in
            while next < high {
                let id = next
                next += 1
                if (try? self.checkUsable()) == nil { return nil }
                if let info = try? self.relationship(RelationshipID(id)) { return info }
            }
            return nil
        }
    }

    /// The relationships of a node with the overlay applied, collected eagerly (see `NeoStores.collectRelationships`)
    /// into `out`, which is emptied first (keeping its capacity, so a caller reusing it allocates nothing).
    @inline(__always)
    private func collect(
        _ node: NodeID, _ direction: Direction, _ types: [RelationshipTypeToken], into out: inout [RelationshipInfo]
    ) throws {
        try checkUsable()
        let id = node.rawValue
        out.removeAll(keepingCapacity: true)
        if state.isEmpty {
            // A cached node needs neither the store lock nor a node record read (NeoStores.cachedRelationships).
            if stores.cachedRelationships(of: id, direction: direction, types: types, into: &out) { return }
            try committed {
                guard try stores.collectRelationshipsIfInUse(of: id, direction: direction, types: types, into: &out)
                else { throw nodeNotFound(node) }
            }
            return
        }
        try collectWithOverlay(node, direction, types, into: &out)
    }

    /// `collect` for a transaction with changes of its own: committed relationships minus those it deleted, plus
    /// those it created.
    private func collectWithOverlay(
        _ node: NodeID, _ direction: Direction, _ types: [RelationshipTypeToken], into out: inout [RelationshipInfo]
    ) throws {
        let id = node.rawValue
        guard try nodeAlive(id) else { throw nodeNotFound(node) }
        if !state.createdNodes.contains(id) {
            try committed { try stores.collectRelationships(of: id, direction: direction, types: types, into: &out) }
            if !state.deletedRelationships.isEmpty {
                out.removeAll { state.deletedRelationships.contains($0.id.rawValue) }
            }
        }
        for relID in state.createdRelationshipsByNode[id] ?? [] {
            guard let info = state.createdRelationships[relID] else { continue }
            guard types.isEmpty || types.contains(info.type) else { continue }
            switch direction {
            case .both: out.append(info)
            case .outgoing: if info.startNode == node { out.append(info) }
            case .incoming: if info.endNode == node { out.append(info) }
            }
        }
    }

    private func collect(_ node: NodeID, _ direction: Direction, _ types: [RelationshipTypeToken]) throws
        -> [RelationshipInfo]
    {
        var out: [RelationshipInfo] = []
        try collect(node, direction, types, into: &out)
        return out
    }

    public func relationships(of node: NodeID, direction: Direction, types: [RelationshipTypeToken]) throws
        -> AnyIterator<RelationshipInfo>
    {
        let rels = try collect(node, direction, types)
        var iterator = rels.makeIterator()
        return AnyIterator { iterator.next() }
    }

    public func relationships(
        of node: NodeID, direction: Direction, types: [RelationshipTypeToken], into out: inout [RelationshipInfo]
    ) throws {
        try collect(node, direction, types, into: &out)
    }

    public func relationships(
        of nodes: ArraySlice<NodeID>, direction: Direction, types: [RelationshipTypeToken],
        into out: inout [RelationshipInfo], ends: inout [Int]
    ) throws {
        try checkUsable()
        out.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        ends.reserveCapacity(nodes.count)
        guard state.isEmpty, stores.adjacency.isEnabled else {
            var one: [RelationshipInfo] = []
            for node in nodes {
                try collect(node, direction, types, into: &one)
                out.append(contentsOf: one)
                ends.append(out.count)
            }
            return
        }
        // Every node's entry first (one cache round trip, overlapping misses), then the edges. A node without an
        // entry is walked from the records (and cached) under the store lock, as in the single-node call.
        var entries = batchEntries
        batchEntries = []
        defer { batchEntries = entries; batchEntries.removeAll(keepingCapacity: true) }
        stores.adjacency.entries(nodes, into: &entries)
        for (i, node) in zip(0..., nodes) {
            if let entry = entries[i] {
                entry.collect(direction: direction, types: types, into: &out)
            } else {
                let id = node.rawValue
                try committed {
                    guard try stores.collectRelationshipsIfInUse(of: id, direction: direction, types: types, into: &out)
                    else { throw nodeNotFound(node) }
                }
            }
            ends.append(out.count)
        }
    }

    public func degree(of node: NodeID, direction: Direction, types: [RelationshipTypeToken]) throws -> Int {
        if state.isEmpty {
            try checkUsable()
            return try committed {
                guard try stores.nodeInUse(node.rawValue) else { throw nodeNotFound(node) }
                return try stores.countRelationships(of: node.rawValue, direction: direction, types: types)
            }
        }
        return try collect(node, direction, types).count
    }

    public func relationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken) throws -> Value {
        try checkUsable()
        let id = rel.rawValue
        if !state.isEmpty {
            guard try relationshipAlive(id) else { throw relationshipNotFound(rel) }
            if let value = state.relationshipProperties[id]?[key] { return value }
            if state.createdRelationships[id] != nil { return .null }
        }
        return try committed {
            guard id >= 0, id < stores.relationships.highID else { throw relationshipNotFound(rel) }
            let record = try stores.relationship(id)
            guard record.inUse else { throw relationshipNotFound(rel) }
            return try stores.property(from: record.nextProp, key: key)
        }
    }

    public func relationshipProperties(_ rel: RelationshipID) throws -> [(PropertyKeyToken, Value)] {
        try checkUsable()
        let id = rel.rawValue
        guard try relationshipAlive(id) else { throw relationshipNotFound(rel) }
        var props: [(Int32, Value)] = []
        if state.createdRelationships[id] == nil {
            props = try committed { try stores.properties(from: try stores.relationship(id).nextProp) }
        }
        return merge(props, state.relationshipProperties[id])
    }

    // MARK: Schema reads and index seeks

    public func indexes() throws -> [IndexDescriptor] {
        try checkUsable()
        var result = committed { database.indexes.values.map(\.descriptor) }
        result.removeAll { state.droppedIndexes.contains($0.name) || state.droppedConstraints.contains($0.name) }
        result.append(contentsOf: state.createdIndexes)
        for constraint in state.createdConstraints {
            result.append(
                IndexDescriptor(
                    name: constraint.name, label: constraint.label, propertyKey: constraint.propertyKey, isUnique: true,
                    state: .populating(progress: 0)))
        }
        return result.sorted { $0.name < $1.name }
    }

    public func constraints() throws -> [ConstraintDescriptor] {
        try checkUsable()
        var result = committed { database.schema.constraints }
        result.removeAll { state.droppedConstraints.contains($0.name) }
        result.append(contentsOf: state.createdConstraints)
        return result.sorted { $0.name < $1.name }
    }

    public func index(label: LabelToken, propertyKey: PropertyKeyToken) throws -> IndexDescriptor? {
        try indexes().first { $0.label == label && $0.propertyKey == propertyKey && $0.state == .online }
    }

    /// The committed index `index` names, which must be online. Called with the store's read lock held.
    private func onlineIndex(_ index: IndexDescriptor) throws -> PropertyIndex {
        guard let committedIndex = database.indexes[index.name] else {
            throw DatabaseError(.indexNotFound, "There is no index named '\(index.name)'")
        }
        switch committedIndex.descriptor.state {
        case .online: return committedIndex
        case .populating(let progress):
            throw DatabaseError(
                .indexNotFound,
                "Index '\(index.name)' is not online yet: it is populating (\(Int(progress * 100)) %)")
        case .failed(let reason):
            throw DatabaseError(.indexNotFound, "Index '\(index.name)' is not online: it failed. \(reason)")
        }
    }

    /// Corrects a committed index query's ids (ascending) with this transaction's node changes: committed hits on
    /// nodes this transaction touched are re-checked against their new state, and touched nodes that now match are
    /// added. Only called when the transaction changed some node (relationship changes do not move index entries).
    private func overlay(_ ids: [Int64], _ index: IndexDescriptor, _ matches: (Value) -> Bool) throws -> [Int64] {
        let touched = state.touchedNodes
        var result = Set(ids.filter { !touched.contains($0) })
        for node in touched where try nodeAlive(node) {
            guard try currentLabels(node).contains(index.label) else { continue }
            let value = try nodeProperty(NodeID(node), index.propertyKey)
            if !value.isNull && matches(value) { result.insert(node) }
        }
        return result.sorted()
    }

    /// Runs a committed index query and corrects it with this transaction's changes (`overlay`).
    private func seek(_ index: IndexDescriptor, _ query: (PropertyIndex) -> [Int64], _ matches: (Value) -> Bool)
        throws -> AnyIterator<NodeID>
    {
        try checkUsable()
        var ids: [Int64] = try committed { query(try onlineIndex(index)) }
        if storedState.hasNodeChanges { ids = try overlay(ids, index, matches) }
        var iterator = ids.makeIterator()
        return AnyIterator { [self] in
            if (try? self.checkUsable()) == nil { return nil }
            return iterator.next().map(NodeID.init)
        }
    }

    public func indexSeek(_ index: IndexDescriptor, equals value: Value) throws -> AnyIterator<NodeID> {
        let key = IndexKey(value)
        return try seek(index, { $0.nodes(equal: value).sorted() }, { IndexKey($0) == key })
    }

    public func indexSeek(_ index: IndexDescriptor, equals value: Value, into out: inout [NodeID]) throws {
        try checkUsable()
        out.removeAll(keepingCapacity: true)
        try committed {
            for id in try onlineIndex(index).nodes(equal: value) { out.append(NodeID(id)) }
        }
        if storedState.hasNodeChanges {
            let key = IndexKey(value)
            let ids = try overlay(out.map(\.rawValue).sorted(), index, { IndexKey($0) == key })
            out.removeAll(keepingCapacity: true)
            for id in ids { out.append(NodeID(id)) }
        } else if out.count > 1 {
            out.sort()
        }
    }

    public func indexSeek(_ index: IndexDescriptor, lower: RangeBound?, upper: RangeBound?) throws
        -> AnyIterator<NodeID>
    {
        try seek(
            index, { $0.nodes(lower: lower, upper: upper) },
            { value in
                let key = IndexKey(value)
                guard let cls = (lower ?? upper).map({ IndexKey($0.value).rangeClass }), key.rangeClass == cls else {
                    return false
                }
                if let lower {
                    let l = IndexKey(lower.value)
                    if key < l || (!lower.inclusive && !(l < key)) { return false }
                }
                if let upper {
                    let u = IndexKey(upper.value)
                    if u < key || (!upper.inclusive && !(key < u)) { return false }
                }
                return true
            })
    }

    public func indexSeek(_ index: IndexDescriptor, prefix: String) throws -> AnyIterator<NodeID> {
        try seek(
            index, { $0.nodes(prefix: prefix) },
            { value in
                if case .string(let s) = value { return s.hasPrefix(prefix) }
                return false
            })
    }

    // MARK: Counts

    private func countsDelta() throws -> [CountsKey: Int] {
        var delta: [CountsKey: Int] = [:]
        guard state.hasDataChanges else { return delta }
        var labelChanged: [Int64] = []
        for node in state.touchedNodes {
            let before: [Int32]? = state.createdNodes.contains(node) ? nil : try committed {
                let record = try stores.node(node)
                return record.inUse ? try stores.labels(of: record) : nil
            }
            let after: [Int32]? = try nodeAlive(node) ? try currentLabels(node) : nil
            if let before { CountsContribution.node(labels: before, sign: -1, into: &delta) }
            if let after { CountsContribution.node(labels: after, sign: 1, into: &delta) }
            if before != nil && after != nil && Set(before!) != Set(after!) { labelChanged.append(node) }
        }
        var rels = Set(state.createdRelationships.keys).union(state.deletedRelationships)
        for node in labelChanged {
            for rel in try collect(NodeID(node), .both, []) { rels.insert(rel.id.rawValue) }
            try committed {
                var committedRels: [RelationshipInfo] = []
                try stores.collectRelationships(of: node, direction: .both, types: [], into: &committedRels)
                for rel in committedRels { rels.insert(rel.id.rawValue) }
            }
        }
        for rel in rels {
            if state.createdRelationships[rel] == nil {
                try committed {
                    let record = try stores.relationship(rel)
                    if record.inUse {
                        CountsContribution.relationship(
                            type: record.type, startLabels: try stores.labels(of: try stores.node(record.startNode)),
                            endLabels: try stores.labels(of: try stores.node(record.endNode)), sign: -1, into: &delta)
                    }
                }
            }
            if try relationshipAlive(rel) {
                let info = try relationship(RelationshipID(rel))
                CountsContribution.relationship(
                    type: info.type, startLabels: try currentLabels(info.startNode.rawValue),
                    endLabels: try currentLabels(info.endNode.rawValue), sign: 1, into: &delta)
            }
        }
        return delta
    }

    public func countNodes(label: LabelToken?) throws -> Int {
        try checkUsable()
        let key = CountsKey.node(label ?? CountsKey.any)
        let base = committed { database.counts[key] ?? 0 }
        return base + (try countsDelta()[key] ?? 0)
    }

    public func countRelationships(startLabel: LabelToken?, type: RelationshipTypeToken?, endLabel: LabelToken?)
        throws -> Int
    {
        try checkUsable()
        if startLabel != nil && endLabel != nil {
            throw DatabaseError(
                .argumentError, "Relationship counts are kept for at most one of start label and end label")
        }
        let key = CountsKey.rel(startLabel ?? CountsKey.any, type ?? CountsKey.any, endLabel ?? CountsKey.any)
        let base = committed { database.counts[key] ?? 0 }
        return base + (try countsDelta()[key] ?? 0)
    }

    // MARK: Node writes

    public func createNode(labels: [LabelToken]) throws -> NodeID {
        try checkDataWrite()
        let id = stores.nodes.allocate()
        allocatedNodes.append(id)
        state.createdNodes.insert(id)
        state.nodeLabels[id] = labels.count < 2 ? labels : Array(Set(labels)).sorted()
        return NodeID(id)
    }

    public func createNode(labels: [LabelToken], properties: [(PropertyKeyToken, Value)]) throws -> NodeID {
        for (_, value) in properties { try checkStorable(value) }
        if !hasRepeatedKey(properties) {
            // The column-wise batch: no per-node set entry, label array or dictionary (CreatedNodeBatch).
            try checkDataWrite()
            let id = stores.nodes.allocate()
            allocatedNodes.append(id)
            storedState.createdBatch.append(
                id, labels: labels.count < 2 ? labels : Array(Set(labels)).sorted(), properties: properties)
            return NodeID(id)
        }
        let node = try createNode(labels: labels)
        // A new node is this transaction's alone: no lock, and its property map is built at its final size.
        var map = [Int32: Value](minimumCapacity: properties.count)
        for (key, value) in properties where !value.isNull { map[key] = value }
        if !map.isEmpty { state.nodeProperties[node.rawValue] = map }
        return node
    }

    /// Whether a key occurs twice (the last value wins then, which the per-node table path gives).
    private func hasRepeatedKey(_ properties: [(PropertyKeyToken, Value)]) -> Bool {
        guard properties.count > 1 else { return false }
        if properties.count > 16 { return Set(properties.map(\.0)).count != properties.count }
        for i in 1..<properties.count where properties[..<i].contains(where: { $0.0 == properties[i].0 }) {
            return true
        }
        return false
    }

    public func deleteNode(_ node: NodeID) throws {
        try checkDataWrite()
        let id = node.rawValue
        guard try nodeAlive(id) else { throw nodeNotFound(node) }
        try lock(.node(node), .exclusive)
        if state.createdNodes.contains(id) {
            if let rels = state.createdRelationshipsByNode[id], !rels.isEmpty {
                throw DatabaseError(
                    .constraintValidationFailed,
                    "Cannot delete node<\(id)>, because it still has relationships. To delete this node, you must "
                        + "first delete its relationships.")
            }
            state.createdNodes.remove(id)
        } else {
            state.deletedNodes.insert(id)
        }
        state.nodeLabels.removeValue(forKey: id)
        state.nodeProperties.removeValue(forKey: id)
    }

    @discardableResult public func addLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool {
        try checkDataWrite()
        guard try nodeAlive(node.rawValue) else { throw nodeNotFound(node) }
        try lock(.node(node), .exclusive)
        var labels = try currentLabels(node.rawValue)
        if labels.contains(label) { return false }
        labels.append(label)
        state.nodeLabels[node.rawValue] = labels.sorted()
        return true
    }

    @discardableResult public func removeLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool {
        try checkDataWrite()
        guard try nodeAlive(node.rawValue) else { throw nodeNotFound(node) }
        try lock(.node(node), .exclusive)
        var labels = try currentLabels(node.rawValue)
        guard let index = labels.firstIndex(of: label) else { return false }
        labels.remove(at: index)
        state.nodeLabels[node.rawValue] = labels
        return true
    }

    private func checkStorable(_ value: Value) throws {
        if !value.isNull && !value.isStorableProperty { throw PropertyValueCodec.unstorable(value) }
    }

    public func setNodeProperty(_ node: NodeID, _ key: PropertyKeyToken, _ value: Value) throws {
        try checkDataWrite()
        try checkStorable(value)
        guard try nodeAlive(node.rawValue) else { throw nodeNotFound(node) }
        // A node created by this transaction is invisible to every other one until commit: nothing to lock.
        if !state.createdNodes.contains(node.rawValue) { try lock(.node(node), .exclusive) }
        state.nodeProperties[node.rawValue, default: [:]][key] = value
    }

    @discardableResult public func removeNodeProperty(_ node: NodeID, _ key: PropertyKeyToken) throws -> Value {
        let previous = try nodeProperty(node, key)
        try setNodeProperty(node, key, .null)
        return previous
    }

    // MARK: Relationship writes

    public func createRelationship(
        from start: NodeID, to end: NodeID, type: RelationshipTypeToken, properties: [(PropertyKeyToken, Value)]
    ) throws -> RelationshipID {
        for (_, value) in properties { try checkStorable(value) }
        try checkDataWrite()
        guard try nodeAlive(start.rawValue) else { throw nodeNotFound(start) }
        guard try nodeAlive(end.rawValue) else { throw nodeNotFound(end) }
        // Tokens are never removed: a type checked once stays valid (a batch uses one type for every row).
        if type != lastCheckedRelationshipType {
            guard stores.relationshipTypeTokens.name(of: type) != nil else {
                throw DatabaseError(.entityNotFound, "No relationship type token with id \(type)")
            }
            lastCheckedRelationshipType = type
        }
        // Shared locks keep both ends from being deleted until the commit; chain splicing happens at commit under
        // the commit lock, so creating relationships on the same node never needs an exclusive lock. They are
        // taken at commit, all at once (`endNodesToLock`).
        if heldNodeLocks[start.rawValue] == nil {
            heldNodeLocks[start.rawValue] = .sharedAtCommit
            endNodesToLock.append(start.rawValue)
        }
        if heldNodeLocks[end.rawValue] == nil {
            heldNodeLocks[end.rawValue] = .sharedAtCommit
            endNodesToLock.append(end.rawValue)
        }
        let id = stores.relationships.allocate()
        allocatedRelationships.append(id)
        // Into the column-wise batch: nothing reads it before something materializes it (`state`).
        storedState.createdRelationshipBatch.append(
            id, type: type, start: start.rawValue, end: end.rawValue, properties: properties)
        return RelationshipID(id)
    }

    public func createRelationship(from start: NodeID, to end: NodeID, type: RelationshipTypeToken) throws
        -> RelationshipID
    {
        try createRelationship(from: start, to: end, type: type, properties: [])
    }

    public func deleteRelationship(_ rel: RelationshipID) throws {
        try checkDataWrite()
        let id = rel.rawValue
        if let info = state.createdRelationships.removeValue(forKey: id) {
            state.createdRelationshipsByNode[info.startNode.rawValue]?.removeAll { $0 == id }
            state.createdRelationshipsByNode[info.endNode.rawValue]?.removeAll { $0 == id }
        } else {
            guard try relationshipAlive(id) else { throw relationshipNotFound(rel) }
            try lock(.relationship(rel), .exclusive)
            state.deletedRelationships.insert(id)
        }
        state.relationshipProperties.removeValue(forKey: id)
    }

    public func setRelationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken, _ value: Value) throws {
        try checkDataWrite()
        try checkStorable(value)
        guard try relationshipAlive(rel.rawValue) else { throw relationshipNotFound(rel) }
        // A relationship created by this transaction is invisible to every other one until commit.
        if state.createdRelationships[rel.rawValue] == nil { try lock(.relationship(rel), .exclusive) }
        state.relationshipProperties[rel.rawValue, default: [:]][key] = value
    }

    @discardableResult public func removeRelationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken) throws
        -> Value
    {
        let previous = try relationshipProperty(rel, key)
        try setRelationshipProperty(rel, key, .null)
        return previous
    }

    // MARK: Schema writes

    @discardableResult public func createIndex(name: String?, label: LabelToken, propertyKey: PropertyKeyToken) throws
        -> IndexDescriptor
    {
        try checkSchemaWrite()
        let existing = try indexes()
        if existing.contains(where: { $0.label == label && $0.propertyKey == propertyKey }) {
            throw DatabaseError(
                .equivalentSchemaRuleAlreadyExists,
                "An equivalent index already exists on :\(try labelName(label))(\(try propertyKeyName(propertyKey)))")
        }
        let indexName = name ?? "index_\(label)_\(propertyKey)"
        if existing.contains(where: { $0.name == indexName }) {
            throw DatabaseError(.indexAlreadyExists, "There already exists an index called '\(indexName)'")
        }
        let descriptor = IndexDescriptor(
            name: indexName, label: label, propertyKey: propertyKey, isUnique: false, state: .populating(progress: 0))
        state.createdIndexes.append(descriptor)
        return descriptor
    }

    public func dropIndex(name: String) throws {
        try checkSchemaWrite()
        try lock(.schema, .exclusive)
        if let i = state.createdIndexes.firstIndex(where: { $0.name == name }) {
            state.createdIndexes.remove(at: i)
            return
        }
        guard let index = try indexes().first(where: { $0.name == name }) else {
            throw DatabaseError(.indexNotFound, "Unable to drop index called '\(name)': no such index exists")
        }
        if index.isUnique {
            throw DatabaseError(
                .indexNotFound, "Unable to drop index '\(name)': it backs a uniqueness constraint (drop the constraint)")
        }
        state.droppedIndexes.append(name)
    }

    @discardableResult public func createUniqueConstraint(
        name: String?, label: LabelToken, propertyKey: PropertyKeyToken
    ) throws -> ConstraintDescriptor {
        try checkSchemaWrite()
        try lock(.schema, .exclusive)
        if try constraints().contains(where: { $0.label == label && $0.propertyKey == propertyKey }) {
            throw DatabaseError(
                .equivalentSchemaRuleAlreadyExists,
                "An equivalent constraint already exists on :\(try labelName(label))(\(try propertyKeyName(propertyKey)))")
        }
        let constraintName = name ?? "constraint_\(label)_\(propertyKey)"
        if try constraints().contains(where: { $0.name == constraintName })
            || indexes().contains(where: { $0.name == constraintName })
        {
            throw DatabaseError(.constraintAlreadyExists, "There already exists a schema rule called '\(constraintName)'")
        }
        let descriptor = ConstraintDescriptor(name: constraintName, label: label, propertyKey: propertyKey)
        state.createdConstraints.append(descriptor)
        return descriptor
    }

    public func dropConstraint(name: String) throws {
        try checkSchemaWrite()
        try lock(.schema, .exclusive)
        if let i = state.createdConstraints.firstIndex(where: { $0.name == name }) {
            state.createdConstraints.remove(at: i)
            return
        }
        guard try constraints().contains(where: { $0.name == name }) else {
            throw DatabaseError(.constraintNotFound, "Unable to drop constraint called '\(name)': no such constraint exists")
        }
        state.droppedConstraints.append(name)
    }

    // MARK: Explicit locks

    public func acquireExclusiveLock(_ node: NodeID) throws {
        try checkUsable()
        try lock(.node(node), .exclusive)
    }

    public func acquireSharedLock(_ node: NodeID) throws {
        try checkUsable()
        try lock(.node(node), .shared)
    }

    public func acquireExclusiveLock(_ rel: RelationshipID) throws {
        try checkUsable()
        try lock(.relationship(rel), .exclusive)
    }

    public func acquireSharedLock(_ rel: RelationshipID) throws {
        try checkUsable()
        try lock(.relationship(rel), .shared)
    }
}
