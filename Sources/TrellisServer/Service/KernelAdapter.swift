import GraphKernel
import GraphValues
import Logging

// The kernel's `GraphDatabase` as the service's `KernelDatabase`.
extension GraphDatabase: KernelDatabase {
    public func beginKernelTransaction(write: Bool, timeout: Duration?) throws -> any KernelTransactionHandle {
        try beginTransaction(mode: write ? .write : .read, timeout: timeout)
    }

    public var lastCommittedTransaction: Int64 { lastCommittedTxID.rawValue }

    public func closeDatabase() throws { try close() }
}

extension KernelTransaction: KernelTransactionHandle {
    public func commitTransaction() throws -> Int64? { try commit()?.rawValue }
    public func rollbackTransaction() { rollback() }
    public func terminateTransaction() { terminate() }
}

extension KernelConfiguration {
    /// The kernel's settings from trellis.conf; `logger` (the server's, when given) receives what the kernel
    /// reports to operators (recovery, rebuilt structures, failed index populations).
    public init(config: Config, logger: Logger? = nil) {
        self.init(pageCacheSizeBytes: config.get(Settings.pageCacheSize).map { Int($0) })
        if pageCacheSizeBytes == nil {
            // The kernel's default has no upper bound; Neo4j's (and configuration.md's) stops at 20 GiB.
            pageCacheSizeBytes = Self.defaultPageCacheSizeBytes(kernelDefault: effectivePageCacheSizeBytes)
        }
        if let logger { self.logger = logger }
        adjacencyCacheSizeBytes = Int(config.get(Settings.adjacencyCacheSize))
        denseNodeThreshold = Int(config.get(Settings.relationshipGroupingThreshold))
        checkpointIntervalTransactions = Int(config.get(Settings.checkpointIntervalTx))
        checkpointInterval = config.get(Settings.checkpointIntervalTime)
        log.rotationSizeBytes = config.get(Settings.txLogRotationSize)
        log.retention = config.get(Settings.txLogRetention)
        log.preallocate = config.get(Settings.txLogPreallocate)
        let timeout = config.get(Settings.transactionTimeout)
        defaultTransactionTimeout = timeout == .zero ? nil : timeout
        let lockTimeout = config.get(Settings.lockAcquisitionTimeout)
        lockAcquisitionTimeout = lockTimeout == .zero ? nil : lockTimeout
    }

    /// The page cache of an unset `dbms.memory.pagecache.size`: the kernel's half of (RAM − 1 GiB), at least
    /// 32 MiB, capped at 20 GiB as Neo4j caps it (a bigger machine usually runs other things too).
    static func defaultPageCacheSizeBytes(kernelDefault: Int) -> Int { min(kernelDefault, 20 << 30) }
}

/// Opens the store of `config` (`<data>/databases/<active_database>`).
public enum KernelBootstrap {
    public static func open(_ config: Config) throws -> any KernelDatabase {
        try GraphDatabase(directory: config.databaseDirectory, configuration: KernelConfiguration(config: config))
    }

    /// `open` with the kernel logging to `logger` (the server passes its debug log's "kernel" component).
    public static func opener(logger: Logger) -> @Sendable (Config) throws -> any KernelDatabase {
        { config in
            try GraphDatabase(
                directory: config.databaseDirectory, configuration: KernelConfiguration(config: config, logger: logger))
        }
    }
}
