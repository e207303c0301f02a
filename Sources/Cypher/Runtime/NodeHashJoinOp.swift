import GraphValues

/// NodeHashJoin: joins the rows of the left side with those of an independent right side on one node variable
/// both bind (`MATCH (a {id: 1})-->(x)-->(b {id: 2})`: `a → x` on the left, `b → x` on the right, joined on `x`),
/// so a pattern with two selective ends is expanded from both ends instead of from one end and filtered at the
/// other.
///
/// The right side runs once, on the first left row, into a hash table keyed by the join node's id. Relationships
/// of the right side must differ from those of the left (relationship uniqueness within a MATCH); the left's
/// relationship slots are checked per combined row.
final class NodeHashJoinOp: Op {
    private let left: Op
    private let right: LogicalPlan
    private let leftJoinSlot: Int
    private let rightJoinSlot: Int
    private let rightSlots: [Int]
    private let rightRelationshipSlots: [Int]
    private let leftUnique: UniquenessSlots
    private let ctx: ExecutionContext
    private var table: [Int64: [[Value]]]?
    private var current: Row?
    private var matches: [[Value]] = []
    private var index = 0

    init(left: Op, right: LogicalPlan, leftJoinSlot: Int, rightJoinSlot: Int, rightSlots: [Int],
         rightRelationshipSlots: [Int], leftUnique: UniquenessSlots, ctx: ExecutionContext, counter: ProfileCounter) {
        self.left = left
        self.right = right
        self.leftJoinSlot = leftJoinSlot
        self.rightJoinSlot = rightJoinSlot
        self.rightSlots = rightSlots
        self.rightRelationshipSlots = rightRelationshipSlots
        self.leftUnique = leftUnique
        self.ctx = ctx
        super.init(counter: counter)
    }

    private func build(_ argument: Row) throws -> [Int64: [[Value]]] {
        var table: [Int64: [[Value]]] = [:]
        var count = 0
        let op = try right.instantiate(ctx, argument: argument)
        while let r = try op.next() {
            guard case .node(let n) = r[rightJoinSlot] else { continue }
            table[n.id, default: []].append(rightSlots.map { r[$0] })
            count += 1
            if count > ctx.options.maxEagerRows {
                throw DatabaseError(.outOfMemory, "NodeHashJoin exceeded \(ctx.options.maxEagerRows) rows")
            }
        }
        return table
    }

    override func produce() throws -> Row? {
        while true {
            if current != nil {
                while index < matches.count {
                    let values = matches[index]
                    index += 1
                    for (i, s) in rightSlots.enumerated() { current![s] = values[i] }
                    var clash = false
                    for s in rightRelationshipSlots {
                        if case .relationship(let r) = current![s], leftUnique.violates(r.id, current!) {
                            clash = true
                            break
                        }
                    }
                    if !clash { return current }
                }
                current = nil
            }
            guard let row = try left.next() else { return nil }
            if table == nil { table = try build(row) }
            guard case .node(let n) = row[leftJoinSlot], let m = table![n.id] else { continue }
            current = row
            matches = m
            index = 0
        }
    }
}
