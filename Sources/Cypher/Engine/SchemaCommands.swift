import GraphKernel
import GraphValues

/// Index and constraint DDL and SHOW commands, run directly against the transaction.
enum SchemaCommands {
    static func run(_ command: SchemaCommand, ctx: ExecutionContext) throws -> (columns: [String], rows: [[Value]]) {
        let tx = ctx.tx
        switch command {
        case .createIndex(let name, _, let entity, let properties, let ifNotExists, _):
            let label = try nodeLabel(entity)
            guard properties.count == 1 else {
                throw DatabaseError(.unsupportedFeature, "Composite indexes are not supported")
            }
            let l = try tx.getOrCreateLabelToken(label)
            let k = try tx.getOrCreatePropertyKeyToken(properties[0])
            if let existing = try tx.index(label: l, propertyKey: k) {
                if ifNotExists { return ([], []) }
                throw DatabaseError(.equivalentSchemaRuleAlreadyExists,
                                    "An equivalent index already exists, '\(existing.name)'.")
            }
            if let name, try tx.indexes().contains(where: { $0.name == name }) {
                if ifNotExists { return ([], []) }
                throw DatabaseError(.indexAlreadyExists, "There already exists an index called '\(name)'.")
            }
            try tx.createIndex(name: name, label: l, propertyKey: k)
            ctx.stats.stats.indexesAdded += 1
        case .dropIndexOn(let entity, let properties, _):
            let label = try nodeLabel(entity)
            guard let l = try tx.labelToken(label), let k = try properties.first.flatMap({ try tx.propertyKeyToken($0) }),
                  let idx = try tx.index(label: l, propertyKey: k), !idx.isUnique
            else {
                throw DatabaseError(.indexNotFound, "Unable to drop index on :\(label)(\(properties.joined(separator: ","))): "
                                        + "No such INDEX ON :\(label)(\(properties.joined(separator: ","))).")
            }
            try tx.dropIndex(name: idx.name)
            ctx.stats.stats.indexesRemoved += 1
        case .dropIndex(let name, let ifExists, _):
            guard try tx.indexes().contains(where: { $0.name == name && !$0.isUnique }) else {
                if ifExists { return ([], []) }
                throw DatabaseError(.indexNotFound, "Unable to drop index called `\(name)`. There is no such index.")
            }
            try tx.dropIndex(name: name)
            ctx.stats.stats.indexesRemoved += 1
        case .createConstraint(let name, let kind, let entity, let properties, let ifNotExists, _):
            guard kind == .unique, properties.count == 1 else {
                throw DatabaseError(.unsupportedFeature, "Only single-property uniqueness constraints are supported")
            }
            let label = try nodeLabel(entity)
            let l = try tx.getOrCreateLabelToken(label)
            let k = try tx.getOrCreatePropertyKeyToken(properties[0])
            if try tx.constraints().contains(where: { $0.label == l && $0.propertyKey == k }) {
                if ifNotExists { return ([], []) }
                throw DatabaseError(.equivalentSchemaRuleAlreadyExists, "An equivalent constraint already exists")
            }
            if let name, try tx.constraints().contains(where: { $0.name == name }) {
                if ifNotExists { return ([], []) }
                throw DatabaseError(.constraintAlreadyExists, "There already exists a constraint called '\(name)'.")
            }
            try tx.createUniqueConstraint(name: name, label: l, propertyKey: k)
            ctx.stats.stats.constraintsAdded += 1
        case .dropConstraintOn(_, let entity, let properties, _):
            let label = try nodeLabel(entity)
            guard let l = try tx.labelToken(label), let k = try properties.first.flatMap({ try tx.propertyKeyToken($0) }),
                  let c = try tx.constraints().first(where: { $0.label == l && $0.propertyKey == k })
            else {
                throw DatabaseError(.constraintNotFound, "Unable to drop constraint on :\(label)(\(properties.joined(separator: ","))): No such constraint")
            }
            try tx.dropConstraint(name: c.name)
            ctx.stats.stats.constraintsRemoved += 1
        case .dropConstraint(let name, let ifExists, _):
            guard try tx.constraints().contains(where: { $0.name == name }) else {
                if ifExists { return ([], []) }
                throw DatabaseError(.constraintNotFound, "Unable to drop constraint `\(name)`: No such constraint \(name).")
            }
            try tx.dropConstraint(name: name)
            ctx.stats.stats.constraintsRemoved += 1
        case .show(let kind, _, let yieldItems, _, _, _):
            var (columns, rows) = kind == .indexes ? try showIndexes(tx) : try showConstraints(tx)
            if let yieldItems {
                let idx = try yieldItems.map { y -> Int in
                    guard let i = columns.firstIndex(of: y.name) else {
                        throw DatabaseError(.syntaxError, "Unknown column `\(y.name)`")
                    }
                    return i
                }
                rows = rows.map { r in idx.map { r[$0] } }
                columns = yieldItems.map(\.variable)
            }
            return (columns, rows)
        }
        return ([], [])
    }

    private static func nodeLabel(_ e: SchemaEntity) throws -> String {
        switch e {
        case .node(let label): return label
        case .relationship:
            throw DatabaseError(.unsupportedFeature, "Relationship property indexes and constraints are not supported")
        }
    }

    static func showIndexes(_ tx: any GraphWriteOperations) throws -> ([String], [[Value]]) {
        let cols = ["id", "name", "state", "populationPercent", "uniqueness", "type", "entityType", "labelsOrTypes",
                    "properties", "indexProvider"]
        let rows = try tx.indexes().sorted { $0.name < $1.name }.enumerated().map { i, idx -> [Value] in
            let (state, pct): (String, Double) = {
                switch idx.state {
                case .online: return ("ONLINE", 100)
                case .populating(let p): return ("POPULATING", p * 100)
                case .failed: return ("FAILED", 0)
                }
            }()
            return [.integer(Int64(i + 1)), .string(idx.name), .string(state), .float(pct),
                    .string(idx.isUnique ? "UNIQUE" : "NONUNIQUE"), .string("BTREE"), .string("NODE"),
                    .list([.string(try tx.labelName(idx.label))]), .list([.string(try tx.propertyKeyName(idx.propertyKey))]),
                    .string("native-btree-1.0")]
        }
        return (cols, rows)
    }

    static func showConstraints(_ tx: any GraphWriteOperations) throws -> ([String], [[Value]]) {
        let cols = ["id", "name", "type", "entityType", "labelsOrTypes", "properties", "ownedIndexId"]
        let rows = try tx.constraints().sorted { $0.name < $1.name }.enumerated().map { i, c -> [Value] in
            [.integer(Int64(i + 1)), .string(c.name), .string("UNIQUENESS"), .string("NODE"),
             .list([.string(try tx.labelName(c.label))]), .list([.string(try tx.propertyKeyName(c.propertyKey))]),
             .null]
        }
        return (cols, rows)
    }
}
