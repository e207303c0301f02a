import GraphValues

/// CartesianProduct: every row of the left side combined with every row of an independent right side (a
/// pattern part sharing no variable with the left, such as `MATCH (a:A), (b:B)`).
///
/// The right side is planned on its own argument, so its rows do not depend on the left row beyond the
/// variables bound before the MATCH. When `buffered`, the right side runs once, on the first left row, and its
/// values (`rightSlots`) are replayed for every left row, which saves re-running a scan or seek per left row;
/// otherwise (its rows must be checked against the left row's relationships for uniqueness) it runs once per
/// left row, as Neo4j's nested-loop CartesianProduct does.
final class CartesianProductOp: Op {
    private let left: Op
    private let right: LogicalPlan
    private let rightSlots: [Int]
    private let buffered: Bool
    private let ctx: ExecutionContext
    private var buffer: [[Value]]?
    private var current: Row?
    private var index = 0
    private var rightOp: Op?

    init(left: Op, right: LogicalPlan, rightSlots: [Int], buffered: Bool, ctx: ExecutionContext,
         counter: ProfileCounter) {
        self.left = left
        self.right = right
        self.rightSlots = rightSlots
        self.buffered = buffered
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while true {
            if current != nil {
                if buffered {
                    if index < buffer!.count {
                        let values = buffer![index]
                        index += 1
                        for (i, s) in rightSlots.enumerated() { current![s] = values[i] }
                        return current
                    }
                } else if let op = rightOp, let r = try op.next() {
                    return r
                }
                current = nil
                rightOp = nil
            }
            guard let row = try left.next() else { return nil }
            current = row
            index = 0
            if buffered {
                if buffer == nil {
                    var rows: [[Value]] = []
                    let op = try right.instantiate(ctx, argument: row)
                    while let r = try op.next() {
                        rows.append(rightSlots.map { r[$0] })
                        if rows.count > ctx.options.maxEagerRows {
                            throw DatabaseError(.outOfMemory, "CartesianProduct exceeded \(ctx.options.maxEagerRows) rows")
                        }
                    }
                    buffer = rows
                }
            } else {
                rightOp = try right.instantiate(ctx, argument: row)
            }
        }
    }
}
