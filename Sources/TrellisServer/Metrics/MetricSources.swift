import BoltServer
import Foundation
import GraphKernel

/// The metric sources of one instance, with Neo4j's names (neo4j-ops.md §7, neo4j-ha.md §8). Each reads counters
/// its subsystem keeps as relaxed atomics (or under a lock it takes anyway), at sampling time only.
enum MetricSources {
    /// Kernel metrics of whatever database is current: an HA member may replace its store (store copy), so the
    /// database is looked up at every sample; nil (closed or not a Trellis store) yields no samples.
    static func registerDatabase(_ registry: MetricsRegistry, database: @escaping @Sendable () -> GraphDatabase?) {
        registry.register(.transactions) {
            guard let db = database() else { return [] }
            let c = db.counters.snapshot
            let last = db.lastCommittedTxID.rawValue
            let p = "neo4j.transaction."
            return [
                .counter(p + "started", c.startedRead + c.startedWrite),
                .counter(p + "peak_concurrent", c.peakConcurrent),
                .gauge(p + "active", c.activeRead + c.activeWrite),
                .gauge(p + "active_read", c.activeRead),
                .gauge(p + "active_write", c.activeWrite),
                .counter(p + "committed", c.committedRead + c.committedWrite),
                .counter(p + "committed_read", c.committedRead),
                .counter(p + "committed_write", c.committedWrite),
                .counter(p + "rollbacks", c.rolledBackRead + c.rolledBackWrite),
                .counter(p + "rollbacks_read", c.rolledBackRead),
                .counter(p + "rollbacks_write", c.rolledBackWrite),
                .counter(p + "terminated", c.terminatedRead + c.terminatedWrite),
                .counter(p + "terminated_read", c.terminatedRead),
                .counter(p + "terminated_write", c.terminatedWrite),
                // Transactions are applied (closed) in commit order, so the last closed is the last committed.
                .counter(p + "last_committed_tx_id", last),
                .counter(p + "last_closed_tx_id", last),
            ]
        }
        registry.register(.pageCache) {
            guard let db = database() else { return [] }
            let s = db.pageCacheStatistics
            // Every page access pins the page for the duration of the access and unpins it afterwards, so pins
            // and unpins are hits plus faults (Neo4j counts them separately because its cursors may stay pinned).
            let accesses = s.hits + s.faults
            let p = "neo4j.page_cache."
            return [
                .counter(p + "pins", accesses),
                .counter(p + "unpins", accesses),
                .counter(p + "hits", s.hits),
                .counter(p + "page_faults", s.faults),
                .counter(p + "evictions", s.evictions),
                .counter(p + "flushes", s.flushes),
                .gauge(p + "hit_ratio", accesses == 0 ? 0 : Double(s.hits) / Double(accesses)),
                .gauge(p + "usage_ratio", s.maxPages == 0 ? 0 : Double(s.residentPages) / Double(s.maxPages)),
            ]
        }
        registry.register(.checkpointing) {
            guard let db = database() else { return [] }
            let c = db.counters.snapshot
            return [
                .counter("neo4j.check_point.events", c.checkpoints),
                .counter("neo4j.check_point.total_time", c.checkpointMillisTotal),
                .gauge("neo4j.check_point.check_point_duration", c.lastCheckpointMillis),
            ]
        }
        registry.register(.logRotation) {
            guard let db = database() else { return [] }
            let s = db.transactionLogStatistics
            return [
                .counter("neo4j.log_rotation.events", s.rotations),
                .counter("neo4j.log_rotation.total_time", s.rotationNanosTotal / 1_000_000),
                .gauge("neo4j.log_rotation.log_rotation_duration", s.lastRotationNanos / 1_000_000),
                // Beyond Neo4j: how well group commit shares syncs (appended transactions per sync).
                .counter("trellis.transaction_log.appended_transactions", s.appendedTransactions),
                .counter("trellis.transaction_log.syncs", s.syncs),
                .counter("trellis.transaction_log.bytes_written", s.bytesWritten),
            ]
        }
        registry.register(.counts) {
            guard let db = database() else { return [] }
            let ids = db.idsInUse
            return [
                .gauge("neo4j.ids_in_use.node", ids.nodes),
                .gauge("neo4j.ids_in_use.relationship", ids.relationships),
                .gauge("neo4j.ids_in_use.property", ids.properties),
                .gauge("neo4j.ids_in_use.relationship_type", ids.relationshipTypes),
            ]
        }
    }

    static func registerBolt(_ registry: MetricsRegistry, metrics: BoltMetrics) {
        registry.register(.boltMessages) {
            let s = metrics.snapshot
            let p = "neo4j.bolt."
            return [
                // Deprecated in Neo4j 3.4 in favour of connections_opened; still reported, with the same value.
                .counter(p + "sessions_started", s.connectionsOpened),
                .counter(p + "connections_opened", s.connectionsOpened),
                .counter(p + "connections_closed", s.connectionsClosed),
                .gauge(p + "connections_running", s.connectionsRunning),
                .gauge(p + "connections_idle", s.connectionsIdle),
                .counter(p + "messages_received", s.messagesReceived),
                .counter(p + "messages_started", s.messagesStarted),
                .counter(p + "messages_done", s.messagesDone),
                .counter(p + "messages_failed", s.messagesFailed),
                .counter(p + "accumulated_queue_time", s.accumulatedQueueMillis),
                .counter(p + "accumulated_processing_time", s.accumulatedProcessingMillis),
            ]
        }
    }

    static func registerHA(_ registry: MetricsRegistry, ha: HAInstance) {
        registry.register(.cluster) { [weak ha] in
            guard let ha else { return [] }
            let pulls = ha.pullStatistics
            return [
                .counter("neo4j.cluster.slave_pull_updates", pulls.count),
                .counter("neo4j.cluster.slave_pull_update_up_to_tx", pulls.lastTx),
                .gauge("neo4j.cluster.is_master", ha.currentRole == .master ? 1 : 0),
                // 1 unless the role is UNKNOWN (neo4j-ha.md §8).
                .gauge("neo4j.cluster.is_available", ha.roleName == "UNKNOWN" ? 0 : 1),
            ]
        }
        guard ha.networkTraffic != nil else { return }
        registry.register(.network) { [weak ha] in
            guard let t = ha?.networkTraffic else { return [] }
            return [
                .counter("neo4j.network.slave_network_tx_writes", t.slaveTransactionBytes),
                .counter("neo4j.network.master_network_tx_writes", t.masterTransactionBytes),
                .counter("neo4j.network.master_network_store_writes", t.masterStoreBytes),
            ]
        }
    }

    static func registerProcess(_ registry: MetricsRegistry) {
        registry.register(.process) { ProcessStatistics.read()?.samples ?? [] }
    }
}

/// Resource use of this process from Linux's `/proc/self` (Trellis's replacement for the JVM metrics groups,
/// which have no meaning without a JVM). Elsewhere nothing is read and no samples are produced.
struct ProcessStatistics: Sendable, Hashable {
    var residentBytes: Int64
    var virtualBytes: Int64
    var threads: Int64
    var cpuMillis: Int64
    var openFiles: Int64

    var samples: [MetricSample] {
        [
            .gauge("trellis.process.resident_memory", residentBytes),
            .gauge("trellis.process.virtual_memory", virtualBytes),
            .gauge("trellis.process.threads", threads),
            .counter("trellis.process.cpu_time", cpuMillis),
            .gauge("trellis.process.open_files", openFiles),
        ]
    }

    static func read() -> ProcessStatistics? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        else { return nil }
        return parse(stat: stat, statm: statm, pageSize: Int64(sysconf(Int32(_SC_PAGESIZE))),
            ticksPerSecond: Int64(sysconf(Int32(_SC_CLK_TCK))),
            openFiles: Int64((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0))
    }

    /// `stat`: fields after the parenthesised command name (which may itself hold spaces and parentheses):
    /// utime and stime are fields 14 and 15, num_threads field 20 (proc(5)). `statm`: size and resident in pages.
    static func parse(stat: String, statm: String, pageSize: Int64, ticksPerSecond: Int64, openFiles: Int64)
        -> ProcessStatistics?
    {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        // rest[0] is field 3 (state).
        func field(_ n: Int) -> Int64? { n - 3 < rest.count ? Int64(rest[n - 3]) : nil }
        let pages = statm.split(separator: " ").compactMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard let utime = field(14), let stime = field(15), let threads = field(20), pages.count >= 2,
            ticksPerSecond > 0
        else { return nil }
        return ProcessStatistics(
            residentBytes: pages[1] * pageSize, virtualBytes: pages[0] * pageSize, threads: threads,
            cpuMillis: (utime + stime) * 1000 / ticksPerSecond, openFiles: openFiles)
    }
}
