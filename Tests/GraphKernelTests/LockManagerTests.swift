import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import GraphValues
import Testing

@testable import GraphKernel

/// Runs `body` on its own thread; `wait()` returns what it threw (or nil).
final class LockTestThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var error: Error?
    private var finished = false
    private let mutex = LogMutex()

    init(_ body: @escaping @Sendable () throws -> Void) {
        DispatchQueue.global().async {
            var caught: Error?
            do { try body() } catch { caught = error }
            self.mutex.withLock {
                self.error = caught
                self.finished = true
            }
            self.done.signal()
        }
    }

    /// Waits up to `seconds`; returns the error thrown, or nil. Fails the test if the thread did not finish.
    func wait(seconds: Double = 10) -> Error? {
        let finishedInTime = done.wait(timeout: .now() + seconds) == .success
        #expect(finishedInTime, "thread did not finish within \(seconds) s")
        return mutex.withLock { error }
    }

    var isFinished: Bool { mutex.withLock { finished } }
}

/// Polls until `condition` holds; generous because a loaded 2-core CI machine can starve a waiting thread, and a
/// time-out is recorded as a failure here rather than surfacing later as a confusing wrong-victim assertion.
func waitUntil(_ condition: () -> Bool, seconds: Double = 30, sourceLocation: SourceLocation = #_sourceLocation) {
    let deadline = DispatchTime.now() + seconds
    while !condition() && DispatchTime.now() < deadline { usleep(1000) }
    #expect(condition(), "condition not reached within \(seconds) s", sourceLocation: sourceLocation)
}

func statusCode(_ error: Error?) -> StatusCode? { (error as? DatabaseError)?.code }

@Suite("Lock manager: compatibility, waits, time-outs, deadlocks, termination")
struct LockManagerTests {
    let a = LockOwner(1)
    let b = LockOwner(2)
    let c = LockOwner(3)
    let node1 = LockResource.node(NodeID(1))
    let node2 = LockResource.node(NodeID(2))
    let node3 = LockResource.node(NodeID(3))

    @Test("shared locks are compatible with each other, exclusive with nothing")
    func compatibility() throws {
        let locks = LockManager()
        try locks.acquire(node1, .shared, for: a)
        #expect(locks.tryAcquire(node1, .shared, for: b))
        #expect(!locks.tryAcquire(node1, .exclusive, for: c))
        #expect(!locks.tryAcquire(node1, .exclusive, for: a), "upgrade must wait for the other sharer")
        locks.releaseAll(b)
        #expect(locks.tryAcquire(node1, .exclusive, for: a), "sole sharer may upgrade")
        #expect(!locks.tryAcquire(node1, .shared, for: b))
        #expect(locks.tryAcquire(node1, .shared, for: a), "exclusive holder re-acquiring shared is free")
        #expect(locks.tryAcquire(node2, .exclusive, for: b))
        #expect(locks.locks(heldBy: a) == [node1: .exclusive])
        locks.releaseAll(a)
        locks.releaseAll(b)
        #expect(locks.lockedResourceCount == 0)
    }

    @Test("different resource kinds do not conflict")
    func resourceKinds() {
        let locks = LockManager()
        #expect(locks.tryAcquire(.node(NodeID(5)), .exclusive, for: a))
        #expect(locks.tryAcquire(.relationship(RelationshipID(5)), .exclusive, for: b))
        #expect(locks.tryAcquire(.schema, .shared, for: b))
        #expect(locks.tryAcquire(.key("unique:1:2:x"), .exclusive, for: c))
        #expect(!locks.tryAcquire(.key("unique:1:2:x"), .exclusive, for: a))
    }

    @Test("a waiter is granted the lock when the holder releases")
    func waitThenGrant() throws {
        let locks = LockManager()
        try locks.acquire(node1, .exclusive, for: a)
        let (b, node1) = (b, node1)
        let waiter = LockTestThread { try locks.acquire(node1, .exclusive, for: b, timeout: .seconds(20)) }
        waitUntil { locks.waitingOwners[b] == node1 }
        #expect(!waiter.isFinished)
        locks.releaseAll(a)
        #expect(waiter.wait() == nil)
        #expect(locks.holders(of: node1).exclusive == b)
    }

    @Test("acquiring several resources at once grants the free ones and waits for a held one like a single acquire")
    func acquireAll() throws {
        let locks = LockManager()
        let entry = { (hash: Int) in LockResource.indexEntry(label: 1, propertyKey: 2, valueHash: hash) }
        try locks.acquire(all: [entry(1), entry(2)], .exclusive, for: a)
        #expect(locks.locks(heldBy: a) == [entry(1): .exclusive, entry(2): .exclusive])
        #expect(!locks.tryAcquire(entry(2), .exclusive, for: b), "an index entry is exclusive to its holder")
        #expect(locks.tryAcquire(LockResource.indexEntry(label: 1, propertyKey: 3, valueHash: 2), .exclusive, for: b))
        // b gets entry 3 at once, then times out on entry 1, keeping what it already had.
        #expect {
            try locks.acquire(all: [entry(3), entry(1)], .exclusive, for: b, timeout: .milliseconds(20))
        } throws: { error in
            statusCode(error) == .lockAcquisitionTimeout && "\(error)".contains("INDEX_ENTRY(label=1, propertyKey=2")
        }
        #expect(locks.holders(of: entry(3)).exclusive == b)
        locks.releaseAll(a)
        try locks.acquire(all: [entry(1)], .exclusive, for: b)
        #expect(locks.holders(of: entry(1)).exclusive == b)
        locks.terminate(c)
        #expect(throws: DatabaseError.self) { try locks.acquire(all: [entry(9)], .exclusive, for: c) }
        #expect(locks.holders(of: entry(9)).exclusive == nil, "a terminated owner takes nothing")
    }

    @Test("a lock wait times out with LockAcquisitionTimeout")
    func timeout() throws {
        let locks = LockManager(defaultTimeout: .milliseconds(100))
        try locks.acquire(node1, .shared, for: a)
        #expect {
            try locks.acquire(node1, .exclusive, for: b)
        } throws: { error in
            statusCode(error) == .lockAcquisitionTimeout && "\(error)".contains("NODE(1)")
        }
        #expect {
            try locks.acquire(node1, .exclusive, for: c, timeout: .milliseconds(20))
        } throws: { statusCode($0) == .lockAcquisitionTimeout }
        #expect(locks.holders(of: node1).shared == [a], "timed-out waiters hold nothing")
    }

    @Test("a deadlock between two transactions fails exactly one with DeadlockDetected")
    func twoWayDeadlock() throws {
        let locks = LockManager()
        let (a, b, node1, node2) = (a, b, node1, node2)
        try locks.acquire(node1, .exclusive, for: a)
        try locks.acquire(node2, .exclusive, for: b)
        let first = LockTestThread { try locks.acquire(node2, .exclusive, for: a, timeout: .seconds(20)) }
        waitUntil { locks.waitingOwners[a] == node2 }
        // b closes the cycle: it is the one that fails.
        #expect {
            try locks.acquire(node1, .exclusive, for: b)
        } throws: { error in
            statusCode(error) == .deadlockDetected && "\(error)".contains("deadlock")
        }
        locks.releaseAll(b)
        #expect(first.wait() == nil)
        #expect(locks.deadlockCount == 1)
    }

    @Test("a deadlock cycle through three transactions is detected")
    func threeWayDeadlock() throws {
        let locks = LockManager()
        let (a, b, c, node1, node2, node3) = (a, b, c, node1, node2, node3)
        try locks.acquire(node1, .exclusive, for: a)
        try locks.acquire(node2, .exclusive, for: b)
        try locks.acquire(node3, .exclusive, for: c)
        let aWaits = LockTestThread { try locks.acquire(node2, .exclusive, for: a, timeout: .seconds(20)) }
        waitUntil { locks.waitingOwners[a] == node2 }
        let bWaits = LockTestThread { try locks.acquire(node3, .exclusive, for: b, timeout: .seconds(20)) }
        waitUntil { locks.waitingOwners[b] == node3 }
        #expect(!aWaits.isFinished && !bWaits.isFinished)
        #expect {
            try locks.acquire(node1, .shared, for: c, timeout: .seconds(20))
        } throws: { statusCode($0) == .deadlockDetected }
        locks.releaseAll(c)
        #expect(bWaits.wait() == nil)
        locks.releaseAll(b)
        #expect(aWaits.wait() == nil)
    }

    @Test("two sharers upgrading to exclusive deadlock; one fails")
    func upgradeDeadlock() throws {
        let locks = LockManager()
        let (a, b, node1) = (a, b, node1)
        try locks.acquire(node1, .shared, for: a)
        try locks.acquire(node1, .shared, for: b)
        let upgrader = LockTestThread { try locks.acquire(node1, .exclusive, for: a, timeout: .seconds(20)) }
        waitUntil { locks.waitingOwners[a] == node1 }
        #expect { try locks.acquire(node1, .exclusive, for: b, timeout: .seconds(20)) } throws: {
            statusCode($0) == .deadlockDetected
        }
        locks.releaseAll(b)
        #expect(upgrader.wait() == nil)
        #expect(locks.holders(of: node1).exclusive == a)
    }

    @Test("waiting for a lock held by an unrelated waiter chain is not a deadlock")
    func chainIsNotDeadlock() throws {
        let locks = LockManager()
        let (a, b, c, node1, node2) = (a, b, c, node1, node2)
        try locks.acquire(node1, .exclusive, for: a)
        try locks.acquire(node2, .exclusive, for: b)
        let bWaits = LockTestThread { try locks.acquire(node1, .exclusive, for: b, timeout: .seconds(20)) }
        waitUntil { locks.waitingOwners[b] == node1 }
        let cWaits = LockTestThread { try locks.acquire(node2, .exclusive, for: c, timeout: .seconds(20)) }
        waitUntil { locks.waitingOwners[c] == node2 }
        #expect(!bWaits.isFinished && !cWaits.isFinished)
        locks.releaseAll(a)
        #expect(bWaits.wait() == nil)
        locks.releaseAll(b)
        #expect(cWaits.wait() == nil)
        #expect(locks.deadlockCount == 0)
    }

    @Test("terminating a waiting transaction wakes it with Terminated")
    func terminateWaiter() throws {
        let locks = LockManager()
        let (b, node1) = (b, node1)
        try locks.acquire(node1, .exclusive, for: a)
        let waiter = LockTestThread { try locks.acquire(node1, .exclusive, for: b, timeout: .seconds(20)) }
        waitUntil { locks.waitingOwners[b] == node1 }
        locks.terminate(b)
        #expect(statusCode(waiter.wait()) == .transactionTerminated)
        #expect(!locks.tryAcquire(node2, .shared, for: b), "terminated owners get no new locks")
        locks.releaseAll(b)
        #expect(locks.tryAcquire(node2, .shared, for: b), "after release the owner id is fresh again")
    }

    @Test("many threads contending on one exclusive lock each get it alone")
    func mutualExclusion() throws {
        let locks = LockManager()
        let counter = LogMutex()
        nonisolated(unsafe) var inside = 0
        nonisolated(unsafe) var maxInside = 0
        let resource = LockResource.key("hot")
        let threads = (0..<8).map { index in
            LockTestThread {
                for round in 0..<200 {
                    let owner = LockOwner(UInt64(index * 1000 + round + 10))
                    try locks.acquire(resource, .exclusive, for: owner)
                    counter.withLock {
                        inside += 1
                        maxInside = max(maxInside, inside)
                    }
                    counter.withLock { inside -= 1 }
                    locks.releaseAll(owner)
                }
            }
        }
        for thread in threads { #expect(thread.wait(seconds: 30) == nil) }
        #expect(maxInside == 1)
        #expect(locks.lockedResourceCount == 0)
    }
}
