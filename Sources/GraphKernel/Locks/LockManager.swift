import GraphValues

/// Something a transaction can lock.
public enum LockResource: Hashable, Sendable, CustomStringConvertible {
    case node(NodeID)
    case relationship(RelationshipID)
    /// The whole schema (index and constraint changes take it exclusively, data changes may take it shared).
    case schema
    /// A label's index entries (uniqueness checks lock (label, property key, value) as a key instead).
    case label(LabelToken)
    /// Anything else, named by the caller.
    case key(String)
    /// One value of a uniqueness-constrained (label, property key), identified by a hash of the value as Neo4j's
    /// `INDEX_ENTRY` resource is: two different values sharing a hash only serialize their transactions, which
    /// costs nothing in correctness, and the commit path avoids building a string per written value.
    case indexEntry(label: Int32, propertyKey: Int32, valueHash: Int)

    public var description: String {
        switch self {
        case .node(let id): return "NODE(\(id.rawValue))"
        case .relationship(let id): return "RELATIONSHIP(\(id.rawValue))"
        case .schema: return "SCHEMA"
        case .label(let token): return "LABEL(\(token))"
        case .key(let name): return "KEY(\(name))"
        case .indexEntry(let label, let key, let hash):
            return "INDEX_ENTRY(label=\(label), propertyKey=\(key), valueHash=\(hash))"
        }
    }
}

public enum LockMode: Sendable, Hashable {
    case shared
    case exclusive
}

/// Who holds locks: one per transaction (the kernel numbers its transactions; any unique value works).
public struct LockOwner: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "transaction \(rawValue)" }
}

/// Shared/exclusive locks held by transactions until `releaseAll`, with time-outs, deadlock detection and
/// termination of waiting transactions.
///
/// - Compatibility: any number of shared holders, or one exclusive holder. A holder re-acquiring is free; an
///   exclusive lock covers shared; upgrading shared → exclusive waits for the other sharers to leave.
/// - Deadlock detection on the wait-for graph (owner → holders of the resource it waits for), run by every owner
///   that starts to wait and again whenever it wakes. A cycle can only appear when some owner starts waiting, so the
///   owner that would close it fails with `Neo.TransientError.Transaction.DeadlockDetected` (as Neo4j's
///   `ForsetiClient` does) and the others proceed once it releases. Drivers retry transient errors.
/// - Time-out: `Neo.TransientError.Transaction.LockAcquisitionTimeout` (Neo4j 3.4's `dbms.lock.acquisition.timeout`;
///   nil waits forever). Termination wakes a waiter with `Neo.ClientError.Transaction.Terminated`.
/// - One mutex guards the tables. Lock calls are short and the kernel takes locks per modified entity, so an
///   uncontended acquire is one mutex round trip and two hash lookups; waiters sleep on one condition variable that
///   is broadcast only when something is released while someone waits.
///
/// Thread-safe.
public final class LockManager: @unchecked Sendable {
    private struct ResourceState {
        var exclusiveOwner: LockOwner?
        var sharedOwners = SharedOwners()
        var isFree: Bool { exclusiveOwner == nil && sharedOwners.isEmpty }
    }

    /// The shared holders of one resource. Nearly always there is one (a batch of relationships takes a shared
    /// lock per end node), so the first is kept inline and a set is only allocated for a second: granting and
    /// releasing an uncontended shared lock allocates nothing.
    private struct SharedOwners {
        private var first: LockOwner?
        private var others: Set<LockOwner> = []

        var isEmpty: Bool { first == nil }
        var count: Int { first == nil ? 0 : 1 + others.count }
        var all: [LockOwner] { first.map { [$0] + others } ?? [] }

        func contains(_ owner: LockOwner) -> Bool { first == owner || (!others.isEmpty && others.contains(owner)) }

        mutating func insert(_ owner: LockOwner) {
            if first == nil {
                first = owner
            } else if first != owner {
                others.insert(owner)
            }
        }

        mutating func remove(_ owner: LockOwner) {
            if first == owner {
                first = others.popFirst()
            } else if !others.isEmpty {
                others.remove(owner)
            }
        }
    }

    private struct OwnerState {
        var held: [LockResource: LockMode] = [:]
        var waitingFor: (resource: LockResource, mode: LockMode)?
        var terminated: DatabaseError?
    }

    private let mutex = LogMutex()
    private var resources: [LockResource: ResourceState] = [:]
    private var owners: [LockOwner: OwnerState] = [:]
    private var waiterCount = 0
    private var deadlocksDetected: Int64 = 0

    /// Time-out for acquisitions that do not pass one (nil = wait until granted, deadlocked or terminated).
    public let defaultTimeout: Duration?

    public init(defaultTimeout: Duration? = nil) {
        self.defaultTimeout = defaultTimeout
    }

    /// Takes `resource` in `mode` for `owner`, waiting while another owner holds it incompatibly.
    ///
    /// Throws `DatabaseError` `DeadlockDetected` (this owner would close a wait cycle), `LockAcquisitionTimeout`, or
    /// `Terminated` (the owner was terminated before or while waiting). The owner keeps the locks it already held.
    public func acquire(_ resource: LockResource, _ mode: LockMode, for owner: LockOwner, timeout: Duration? = nil)
        throws
    {
        mutex.lock()
        defer { mutex.unlock() }
        if let reason = owners[owner]?.terminated { throw reason }
        if tryGrant(resource, mode, owner) { return }

        let limit = timeout ?? defaultTimeout
        let deadline = limit.map { logMonotonicNanos() &+ UInt64(max(0, $0.nanoseconds)) }
        owners[owner, default: OwnerState()].waitingFor = (resource, mode)
        waiterCount += 1
        defer {
            waiterCount -= 1
            owners[owner]?.waitingFor = nil
            if owners[owner].map({ $0.held.isEmpty && $0.terminated == nil }) ?? false { owners[owner] = nil }
        }
        while true {
            if let cycle = waitCycle(from: owner) {
                deadlocksDetected += 1
                throw DatabaseError(
                    .deadlockDetected,
                    "\(owner) can't acquire \(mode == .exclusive ? "ExclusiveLock" : "SharedLock") on \(resource) "
                        + "because it would deadlock: " + cycle)
            }
            if let deadline {
                if !mutex.wait(untilMonotonicNanos: deadline) && logMonotonicNanos() >= deadline {
                    if let reason = owners[owner]?.terminated { throw reason }
                    if tryGrant(resource, mode, owner) { return }
                    throw DatabaseError(
                        .lockAcquisitionTimeout,
                        "\(owner) timed out after \(limit!) waiting for \(mode == .exclusive ? "an exclusive" : "a shared") "
                            + "lock on \(resource) held by \(describeHolders(resource, except: owner))")
                }
            } else {
                mutex.wait()
            }
            if let reason = owners[owner]?.terminated { throw reason }
            if tryGrant(resource, mode, owner) { return }
        }
    }

    /// Takes every resource of `resources`, in that order, in `mode` for `owner`: those available now under one
    /// mutex round trip, then the rest one by one, waiting as `acquire` does. Same errors as `acquire`; the locks
    /// taken before a failure stay held until `releaseAll`, as with single acquisitions.
    public func acquire(
        all resources: [LockResource], _ mode: LockMode, for owner: LockOwner, timeout: Duration? = nil
    ) throws {
        var granted = 0
        try mutex.withLock {
            if let reason = owners[owner]?.terminated { throw reason }
            // The owner's table is taken out while the batch is granted: one lookup for the batch instead of one
            // per resource, grown once, and uniquely referenced while it grows (a commit locks one resource per
            // unique value it writes, a thousand in a batched import).
            var state = owners.removeValue(forKey: owner) ?? OwnerState()
            state.held.reserveCapacity(state.held.count + resources.count)
            defer { if !state.held.isEmpty || state.waitingFor != nil { owners[owner] = state } }
            while granted < resources.count, grant(resources[granted], mode, owner, held: &state.held) {
                granted += 1
            }
        }
        for resource in resources[granted...] { try acquire(resource, mode, for: owner, timeout: timeout) }
    }

    /// Takes the lock only if it is available now; never waits.
    public func tryAcquire(_ resource: LockResource, _ mode: LockMode, for owner: LockOwner) -> Bool {
        mutex.withLock {
            guard owners[owner]?.terminated == nil else { return false }
            return tryGrant(resource, mode, owner)
        }
    }

    /// Releases every lock `owner` holds and forgets it (including a termination mark).
    public func releaseAll(_ owner: LockOwner) {
        mutex.withLock {
            guard let state = owners.removeValue(forKey: owner) else { return }
            for (resource, mode) in state.held {
                // One hash lookup per resource: the state is changed in place through its index (four lookups
                // before, which made releasing a 10,000-relationship batch's end-node locks about 3 % of its CPU).
                guard let index = resources.index(forKey: resource) else { continue }
                // An owner that upgraded is recorded in both.
                if mode == .exclusive { resources.values[index].exclusiveOwner = nil }
                resources.values[index].sharedOwners.remove(owner)
                if resources.values[index].isFree { resources.remove(at: index) }
            }
            if waiterCount > 0 { mutex.broadcast() }
        }
    }

    /// Marks `owner` terminated: a current wait ends with `reason`, and so does every later acquisition until
    /// `releaseAll`. Held locks stay held until the owner rolls back and releases them.
    public func terminate(_ owner: LockOwner, reason: DatabaseError? = nil) {
        mutex.withLock {
            owners[owner, default: OwnerState()].terminated =
                reason ?? DatabaseError(.transactionTerminated, "\(owner) has been terminated")
            if waiterCount > 0 { mutex.broadcast() }
        }
    }

    /// The locks `owner` holds.
    public func locks(heldBy owner: LockOwner) -> [LockResource: LockMode] {
        mutex.withLock { owners[owner]?.held ?? [:] }
    }

    /// Owners holding `resource` (for diagnostics such as `dbms.listLocks`-style output).
    public func holders(of resource: LockResource) -> (exclusive: LockOwner?, shared: Set<LockOwner>) {
        mutex.withLock { (resources[resource]?.exclusiveOwner, Set(resources[resource]?.sharedOwners.all ?? [])) }
    }

    /// The resource each waiting owner waits for (diagnostics, and tests that need a waiter to be parked).
    public var waitingOwners: [LockOwner: LockResource] {
        mutex.withLock {
            var result: [LockOwner: LockResource] = [:]
            for (owner, state) in owners { if let wanted = state.waitingFor { result[owner] = wanted.resource } }
            return result
        }
    }

    /// Number of resources currently locked by anyone.
    public var lockedResourceCount: Int { mutex.withLock { resources.count } }

    /// Deadlocks detected since creation.
    public var deadlockCount: Int64 { mutex.withLock { deadlocksDetected } }

    // MARK: - Internals (all with the mutex held)

    /// What granting `mode` on `resource` to `owner` would do: nothing (it already holds as much), nothing yet
    /// (another owner blocks it), or this new state of the resource. The one place the compatibility rules live.
    private enum Admission {
        case alreadyHeld
        case blocked
        case granted(ResourceState)
    }

    private func admit(_ resource: LockResource, _ mode: LockMode, _ owner: LockOwner) -> Admission {
        var state = resources[resource] ?? ResourceState()
        switch mode {
        case .shared:
            if state.exclusiveOwner == owner || state.sharedOwners.contains(owner) { return .alreadyHeld }
            guard state.exclusiveOwner == nil else { return .blocked }
            state.sharedOwners.insert(owner)
        case .exclusive:
            if state.exclusiveOwner == owner { return .alreadyHeld }
            guard state.exclusiveOwner == nil,
                state.sharedOwners.isEmpty || (state.sharedOwners.count == 1 && state.sharedOwners.contains(owner))
            else { return .blocked }
            state.exclusiveOwner = owner
        }
        return .granted(state)
    }

    private func tryGrant(_ resource: LockResource, _ mode: LockMode, _ owner: LockOwner) -> Bool {
        switch admit(resource, mode, owner) {
        case .alreadyHeld: return true
        case .blocked: return false
        case .granted(let state):
            resources[resource] = state
            owners[owner, default: OwnerState()].held[resource] = mode
            return true
        }
    }

    /// `tryGrant` recording the grant in `held`, the owner's table taken out of `owners` by the caller.
    private func grant(
        _ resource: LockResource, _ mode: LockMode, _ owner: LockOwner, held: inout [LockResource: LockMode]
    ) -> Bool {
        switch admit(resource, mode, owner) {
        case .alreadyHeld: return true
        case .blocked: return false
        case .granted(let state):
            resources[resource] = state
            held[resource] = mode
            return true
        }
    }

    /// Owners `owner` waits for: the holders of its wanted resource that block its wanted mode.
    private func blockers(of owner: LockOwner) -> [LockOwner] {
        guard let wanted = owners[owner]?.waitingFor, let state = resources[wanted.resource] else { return [] }
        var result: [LockOwner] = []
        if let exclusive = state.exclusiveOwner, exclusive != owner { result.append(exclusive) }
        if wanted.mode == .exclusive {
            result.append(contentsOf: state.sharedOwners.all.filter { $0 != owner && $0 != state.exclusiveOwner })
        }
        return result
    }

    /// A description of a wait-for cycle through `start`, if there is one (depth-first search, bounded by the
    /// number of owners).
    private func waitCycle(from start: LockOwner) -> String? {
        var visited: Set<LockOwner> = [start]
        var path: [LockOwner] = [start]
        func visit(_ owner: LockOwner) -> Bool {
            for next in blockers(of: owner) {
                if next == start { return true }
                if visited.insert(next).inserted {
                    path.append(next)
                    if visit(next) { return true }
                    path.removeLast()
                }
            }
            return false
        }
        guard visit(start) else { return nil }
        path.append(start)
        return path.map { owner -> String in
            if let wanted = owners[owner]?.waitingFor { return "\(owner) waits for \(wanted.resource)" }
            return owner.description
        }.joined(separator: " -> ")
    }

    private func describeHolders(_ resource: LockResource, except owner: LockOwner) -> String {
        guard let state = resources[resource] else { return "nobody" }
        var names: [String] = []
        if let exclusive = state.exclusiveOwner, exclusive != owner { names.append("\(exclusive) (exclusive)") }
        for shared in state.sharedOwners.all.sorted(by: { $0.rawValue < $1.rawValue }) where shared != owner {
            names.append("\(shared) (shared)")
        }
        return names.isEmpty ? "nobody" : names.joined(separator: ", ")
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}
