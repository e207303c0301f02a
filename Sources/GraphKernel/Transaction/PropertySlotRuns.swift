import GraphValues

/// The property columns of a created batch (`CreatedNodeBatch`, `CreatedRelationshipBatch`): one run of (key, value)
/// slots per entity in two flat arrays, each run sorted by key, without `.null` values or repeated keys.
struct PropertySlotRuns {
    /// Per entity: the end of its run in `keys`/`values` (its start is the previous run's end).
    private(set) var ends: [Int32] = []
    private(set) var keys: [Int32] = []
    private(set) var values: [Value] = []

    /// Appends the next entity's run. `.null` values are dropped (a created entity never had the key). With
    /// `keysMayRepeat`, a repeated key's last value wins (a last `.null` removes it), as in a map built from the
    /// list; without it the caller guarantees distinct keys and no search is made.
    mutating func appendRun(_ properties: [(Int32, Value)], keysMayRepeat: Bool) {
        let start = keys.count
        for (key, value) in properties {
            if keysMayRepeat, let existing = keys[start...].firstIndex(of: key) {
                if value.isNull {
                    keys.remove(at: existing)
                    values.remove(at: existing)
                } else {
                    values[existing] = value
                }
                continue
            }
            guard !value.isNull else { continue }
            // Insertion keeps the run sorted by key (runs are a handful of slots).
            var i = keys.count
            keys.append(key)
            values.append(value)
            while i > start && keys[i - 1] > key {
                keys.swapAt(i - 1, i)
                values.swapAt(i - 1, i)
                i -= 1
            }
        }
        ends.append(Int32(keys.count))
    }

    /// The slots of the entity at `index`.
    func run(at index: Int) -> Range<Int> {
        (index == 0 ? 0 : Int(ends[index - 1]))..<Int(ends[index])
    }
}
