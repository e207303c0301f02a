/// After-images of transactions that are written to the log but not yet applied to the stores.
///
/// With group commit, a transaction is prepared while earlier ones may still be waiting for their fsync or their
/// apply turn; preparing against the stores alone would splice chains from stale records. Record loads during
/// prepare therefore look here first. An entry is dropped when its transaction is applied, unless a later
/// transaction has replaced it meanwhile.
final class PendingRecords: @unchecked Sendable {
    private let mutex = KernelMutex()
    private var images: [StoreKind: [Int64: (txID: Int64, bytes: [UInt8])]] = [:]
    private var lastWritten: Int64 = 0

    func add(_ txID: Int64, _ records: [RecordCommand]) {
        mutex.withLock {
            lastWritten = max(lastWritten, txID)
            for command in records { images[command.kind, default: [:]][command.id] = (txID, command.after) }
        }
    }

    func remove(_ txID: Int64, _ records: [RecordCommand]) {
        mutex.withLock {
            for command in records where images[command.kind]?[command.id]?.txID == txID {
                images[command.kind]?.removeValue(forKey: command.id)
            }
        }
    }

    /// The newest unapplied after-image of a record, if any.
    func image(_ kind: StoreKind, _ id: Int64) -> [UInt8]? {
        mutex.withLock { images[kind]?[id]?.bytes }
    }

    /// The last transaction written through the pipeline, or `applied` if that is later.
    func lastWrittenTx(orAtLeast applied: Int64) -> Int64 { mutex.withLock { max(lastWritten, applied) } }
}
