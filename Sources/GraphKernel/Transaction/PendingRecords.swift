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
            forEachKind(records) { kind, run in
                // Taken out of the outer table while modified, so it stays uniquely referenced (no copy).
                var table = images.removeValue(forKey: kind) ?? [:]
                for command in run { table[command.id] = (txID, command.after) }
                images[kind] = table
            }
        }
    }

    func remove(_ txID: Int64, _ records: [RecordCommand]) {
        mutex.withLock {
            // Applies go in tx-id order and each drops its own images, so when nothing was written after this
            // transaction every image left is its own: drop them at once instead of one lookup per record (a bulk
            // transaction has hundreds of thousands).
            if lastWritten == txID {
                images.removeAll()
                return
            }
            forEachKind(records) { kind, run in
                guard var table = images.removeValue(forKey: kind) else { return }
                for command in run where table[command.id]?.txID == txID { table.removeValue(forKey: command.id) }
                images[kind] = table
            }
        }
    }

    /// Calls `body` for each run of consecutive commands of one store (after-images come grouped by store).
    private func forEachKind(_ records: [RecordCommand], _ body: (StoreKind, ArraySlice<RecordCommand>) -> Void) {
        var start = records.startIndex
        while start < records.endIndex {
            let kind = records[start].kind
            var end = start + 1
            while end < records.endIndex && records[end].kind == kind { end += 1 }
            body(kind, records[start..<end])
            start = end
        }
    }

    /// The newest unapplied after-image of a record, if any.
    func image(_ kind: StoreKind, _ id: Int64) -> [UInt8]? {
        mutex.withLock { images[kind]?[id]?.bytes }
    }

    /// The last transaction written through the pipeline, or `applied` if that is later.
    func lastWrittenTx(orAtLeast applied: Int64) -> Int64 { mutex.withLock { max(lastWritten, applied) } }
}
