import GraphValues
import Testing

@testable import GraphKernel

/// `IndexEntryTable` (a property index's equality table) against a `Dictionary` model.
@Suite("Index entry table")
struct IndexEntryTableTests {
    func expectSame(_ table: IndexEntryTable, _ model: [IndexKey: Set<Int64>], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(table.count == model.count, sourceLocation: sourceLocation)
        var seen: [IndexKey: Set<Int64>] = [:]
        for (key, holders) in table { seen[key] = Set(holders) }
        #expect(seen == model, sourceLocation: sourceLocation)
        for (key, nodes) in model { #expect(table[key].map { Set($0) } == nodes, sourceLocation: sourceLocation) }
    }

    @Test("random inserts and removes (growth, tombstones, moved entries, shared values) agree with a dictionary")
    func randomAgainstModel() {
        var rng = SeededGenerator(state: 42)
        var table = IndexEntryTable()
        var model: [IndexKey: Set<Int64>] = [:]
        // Small key spaces make values shared by several nodes and removals frequent; then a growing phase.
        for (steps, keySpace, removeShare) in [(20_000, 300, 45), (30_000, 1_000_000, 10), (20_000, 2_000, 60)] {
            for _ in 0..<steps {
                let raw = Int64.random(in: 0..<Int64(keySpace), using: &rng)
                let key = raw % 3 == 0 ? IndexKey(.string("s\(raw)")) : IndexKey(.integer(raw))
                let node = Int64.random(in: 0..<8, using: &rng)
                if Int.random(in: 0..<100, using: &rng) < removeShare {
                    let gone = table.remove(key, node)
                    let had = model[key]?.remove(node) != nil
                    if model[key]?.isEmpty == true { model[key] = nil }
                    #expect(gone == (had && model[key] == nil))
                } else {
                    let first = table.insert(key, node)
                    #expect(first == (model[key] == nil))
                    model[key, default: []].insert(node)
                }
            }
            expectSame(table, model)
        }
        // Remove everything: the table empties and still works.
        for (key, nodes) in model { for node in nodes { _ = table.remove(key, node) } }
        #expect(table.isEmpty)
        #expect(table[IndexKey(.integer(1))] == nil)
        let reinserted = table.insert(IndexKey(.integer(1)), 5)
        #expect(reinserted)
        #expect(table[IndexKey(.integer(1))].map { Array($0) } == [5])
    }

    @Test("a table built from a dictionary (a loaded snapshot) answers like it; 1 and 1.0 are one key")
    func builtFromDictionary() {
        var source: [IndexKey: IndexHolders] = [:]
        for i in 0..<Int64(5_000) { source[IndexKey(.integer(i))] = IndexHolders([i, i + 10_000]) }
        var table = IndexEntryTable(source)
        #expect(table.count == 5_000)
        #expect(table[IndexKey(.float(17.0))].map { Set($0) } == [17, 10_017])
        let newKey = table.insert(IndexKey(.float(17.0)), 3)
        #expect(!newKey)
        let goneAfterFirst = table.remove(IndexKey(.integer(4_999)), 4_999)
        let goneAfterSecond = table.remove(IndexKey(.integer(4_999)), 14_999)
        #expect(!goneAfterFirst && goneAfterSecond)
        #expect(table[IndexKey(.integer(4_999))] == nil)
        #expect(table.count == 4_999)
    }
}
