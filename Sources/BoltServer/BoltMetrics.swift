import Synchronization

/// Counters of one Bolt connector, read by the server's metrics (`neo4j.bolt.*`, neo4j-ops.md §7).
///
/// Relaxed atomics: they are bumped per connection and per message on the event loop and connection queues, and
/// sampled every few seconds by a reporter, which needs each value exact but not a snapshot across them.
public final class BoltMetrics: Sendable {
    let opened = Atomic<Int>(0)
    let closed = Atomic<Int>(0)
    let received = Atomic<Int>(0)
    let started = Atomic<Int>(0)
    let done = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let queueNanos = Atomic<Int>(0)
    let processingNanos = Atomic<Int>(0)

    public init() {}

    /// Counter values at one moment.
    public struct Snapshot: Sendable, Hashable {
        public var connectionsOpened: Int
        public var connectionsClosed: Int
        /// Connections handling a message now (started and not done).
        public var connectionsRunning: Int
        /// Open connections not handling a message.
        public var connectionsIdle: Int
        public var messagesReceived: Int
        public var messagesStarted: Int
        public var messagesDone: Int
        public var messagesFailed: Int
        /// Milliseconds messages waited between arriving and being started, summed.
        public var accumulatedQueueMillis: Int
        /// Milliseconds spent handling messages, summed (a PULL paused for a slow reader counts until it pauses).
        public var accumulatedProcessingMillis: Int
    }

    public var snapshot: Snapshot {
        // `done` before `started`, so that a message finishing between the two loads never makes running negative.
        let done = self.done.load(ordering: .relaxed)
        let started = self.started.load(ordering: .relaxed)
        let opened = self.opened.load(ordering: .relaxed)
        let closed = self.closed.load(ordering: .relaxed)
        // A connection runs one message at a time, so messages in progress are connections running.
        let running = max(0, started - done)
        return Snapshot(
            connectionsOpened: opened, connectionsClosed: closed, connectionsRunning: running,
            connectionsIdle: max(0, opened - closed - running), messagesReceived: received.load(ordering: .relaxed),
            messagesStarted: started, messagesDone: done, messagesFailed: failed.load(ordering: .relaxed),
            accumulatedQueueMillis: queueNanos.load(ordering: .relaxed) / 1_000_000,
            accumulatedProcessingMillis: processingNanos.load(ordering: .relaxed) / 1_000_000)
    }
}
