import Foundation
import GraphKernel
import GraphValues

/// The built-in `db.*` and `dbms.*` procedures, with Neo4j 3.5's column names (reference neo4j-ops.md §8).
enum BuiltInProcedures {
    static func registerAll(in r: ProcedureRegistry) {
        r.register(ProcedureDefinition(
            name: "db.labels", outputs: [("label", "STRING?")],
            description: "List all labels in the database."
        ) { ctx, _ in
            try ctx.transaction.allLabels().map { [.string($0.1)] }
        })
        r.register(ProcedureDefinition(
            name: "db.relationshipTypes", outputs: [("relationshipType", "STRING?")],
            description: "List all relationship types in the database."
        ) { ctx, _ in
            try ctx.transaction.allRelationshipTypes().map { [.string($0.1)] }
        })
        r.register(ProcedureDefinition(
            name: "db.propertyKeys", outputs: [("propertyKey", "STRING?")],
            description: "List all property keys in the database."
        ) { ctx, _ in
            try ctx.transaction.allPropertyKeys().map { [.string($0.1)] }
        })
        r.register(ProcedureDefinition(
            name: "db.indexes",
            outputs: [("description", "STRING?"), ("indexName", "STRING?"), ("tokenNames", "LIST? OF STRING?"),
                      ("properties", "LIST? OF STRING?"), ("state", "STRING?"), ("type", "STRING?"),
                      ("progress", "FLOAT?"), ("provider", "MAP?"), ("id", "INTEGER?"),
                      ("failureMessage", "STRING?")],
            description: "List all indexes in the database."
        ) { ctx, _ in
            let tx = ctx.transaction
            return try tx.indexes().sorted { $0.name < $1.name }.enumerated().map { i, idx in
                let label = try tx.labelName(idx.label)
                let key = try tx.propertyKeyName(idx.propertyKey)
                let (state, progress, failure): (String, Double, String) = {
                    switch idx.state {
                    case .online: return ("ONLINE", 100, "")
                    case .populating(let p): return ("POPULATING", p * 100, "")
                    case .failed(let m): return ("FAILED", 0, m)
                    }
                }()
                return [
                    .string("INDEX ON :\(label)(\(key))"), .string(idx.name), .list([.string(label)]),
                    .list([.string(key)]), .string(state),
                    .string(idx.isUnique ? "node_unique_property" : "node_label_property"), .float(progress),
                    .map(["key": .string("native-btree"), "version": .string("1.0")]), .integer(Int64(i + 1)),
                    .string(failure),
                ]
            }
        })
        r.register(ProcedureDefinition(
            name: "db.constraints", outputs: [("description", "STRING?")],
            description: "List all constraints in the database."
        ) { ctx, _ in
            let tx = ctx.transaction
            return try tx.constraints().sorted { $0.name < $1.name }.map { c in
                let label = try tx.labelName(c.label)
                let key = try tx.propertyKeyName(c.propertyKey)
                let v = label.lowercased()
                return [.string("CONSTRAINT ON ( \(v):\(label) ) ASSERT \(v).\(key) IS UNIQUE")]
            }
        })
        let schemaViz = ProcedureDefinition(
            name: "db.schema.visualization", outputs: [("nodes", "LIST? OF NODE?"), ("relationships", "LIST? OF RELATIONSHIP?")],
            description: "Visualize the schema of the data."
        ) { ctx, _ in
            try schemaVisualization(ctx.transaction)
        }
        r.register(schemaViz)
        var schemaAlias = schemaViz
        schemaAlias.name = "db.schema"
        r.register(schemaAlias)
        r.register(ProcedureDefinition(
            name: "db.awaitIndexes", parameters: [ProcedureParameter("timeOutSeconds", "INTEGER?", default: .integer(300))],
            outputs: [], description: "Wait for all indexes to come online (for example: CALL db.awaitIndexes(\"500\"))."
        ) { ctx, args in
            let timeout: Int64 = { if case .integer(let t) = args.first { return t } else { return 300 } }()
            let deadline = Date().addingTimeInterval(TimeInterval(timeout))
            while true {
                let pending = try ctx.transaction.indexes().filter {
                    if case .online = $0.state { return false } else { return true }
                }
                if let failed = pending.first(where: { if case .failed = $0.state { return true } else { return false } }) {
                    throw DatabaseError(.procedureCallFailed, "Index \(failed.name) entered a FAILED state")
                }
                if pending.isEmpty { return [] }
                if Date() > deadline {
                    throw DatabaseError(.procedureCallFailed,
                                        "Index population did not complete within \(timeout) seconds")
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
        })
        r.register(ProcedureDefinition(
            name: "db.awaitIndex",
            parameters: [ProcedureParameter("index", "STRING?"),
                         ProcedureParameter("timeOutSeconds", "INTEGER?", default: .integer(300))],
            outputs: [], description: "Wait for an index to come online."
        ) { ctx, args in
            let name: String = { if case .string(let s) = args.first { return s } else { return "" } }()
            let timeout: Int64 = { if args.count > 1, case .integer(let t) = args[1] { return t } else { return 300 } }()
            let deadline = Date().addingTimeInterval(TimeInterval(timeout))
            while true {
                let all = try ctx.transaction.indexes()
                let tx = ctx.transaction
                guard let idx = try all.first(where: {
                    try $0.name == name || "INDEX ON :\(tx.labelName($0.label))(\(tx.propertyKeyName($0.propertyKey)))" == name
                        || ":\(tx.labelName($0.label))(\(tx.propertyKeyName($0.propertyKey)))" == name
                }) else {
                    throw DatabaseError(.procedureCallFailed, "No such index \(name)")
                }
                switch idx.state {
                case .online: return []
                case .failed(let m): throw DatabaseError(.procedureCallFailed, "Index \(name) failed: \(m)")
                case .populating: break
                }
                if Date() > deadline {
                    throw DatabaseError(.procedureCallFailed, "Index population did not complete within \(timeout) seconds")
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
        })
        r.register(ProcedureDefinition(
            name: "dbms.procedures",
            outputs: [("name", "STRING?"), ("signature", "STRING?"), ("description", "STRING?"), ("mode", "STRING?")],
            mode: .dbms, description: "List all procedures in the DBMS."
        ) { ctx, _ in
            ctx.registry.all.map { [.string($0.name), .string($0.signature), .string($0.description), .string($0.mode.rawValue)] }
        })
        r.register(ProcedureDefinition(
            name: "dbms.functions",
            outputs: [("name", "STRING?"), ("signature", "STRING?"), ("description", "STRING?")],
            mode: .dbms, description: "List all user functions in the DBMS."
        ) { _, _ in
            FunctionCatalog.all.map { [.string($0.name), .string($0.signature), .string($0.description)] }
        })
        r.register(ProcedureDefinition(
            name: "dbms.components",
            outputs: [("name", "STRING?"), ("versions", "LIST? OF STRING?"), ("edition", "STRING?")],
            mode: .dbms, description: "List DBMS components and their versions."
        ) { _, _ in
            [[.string("Neo4j Kernel"), .list([.string(TrellisVersion.neo4jCompatible)]), .string("enterprise")]]
        })
        r.register(ProcedureDefinition(
            name: "dbms.clearQueryCaches", outputs: [("value", "STRING?")], mode: .dbms,
            description: "Clear all query caches."
        ) { _, _ in
            // The engine owning the cache intercepts this name; reaching here means no engine cache was involved.
            [[.string("Query caches successfully cleared.")]]
        })
    }

    /// One virtual node per label and one virtual relationship per (start label, type, end label) seen in data.
    static func schemaVisualization(_ tx: any GraphWriteOperations) throws -> [[Value]] {
        let labels = try tx.allLabels().filter { try tx.countNodes(label: $0.0) > 0 }
        var nodes: [Value] = []
        var idOf: [LabelToken: Int64] = [:]
        for (i, (tok, name)) in labels.enumerated() {
            let id = -Int64(i) - 1
            idOf[tok] = id
            nodes.append(.node(NodeValue(id: id, labels: [name], properties: ["name": .string(name)])))
        }
        var rels: [Value] = []
        var relID: Int64 = -1
        var seen = Set<[Int64]>()
        // Derived from a scan of relationships: counts alone cannot tell which label pairs co-occur.
        let it = try tx.allRelationships()
        var scanned = 0
        while let r = it.next(), scanned < 1_000_000 {
            scanned += 1
            for sl in try tx.labels(of: r.startNode) {
                for el in try tx.labels(of: r.endNode) {
                    guard let s = idOf[sl], let e = idOf[el] else { continue }
                    let key = [s, Int64(r.type), e]
                    if seen.insert(key).inserted {
                        rels.append(.relationship(RelationshipValue(
                            id: relID, startNodeId: s, endNodeId: e, type: try tx.relationshipTypeName(r.type),
                            properties: [:])))
                        relID -= 1
                    }
                }
            }
        }
        return [[.list(nodes), .list(rels)]]
    }
}

/// Versions Trellis reports to tools and drivers.
public enum TrellisVersion {
    /// The one Neo4j version Trellis reports everywhere: `dbms.components()`, the Bolt server agent
    /// (`Neo4j/5.26.0`) and the HTTP discovery document's `neo4j_version`. It is a 5.x version because Trellis
    /// speaks Bolt 4.4–5.8, which only 5.x servers do; drivers that read the agent must see a server consistent
    /// with the protocol it negotiated (docs/bolt.md, "Versions").
    public static let neo4jCompatible = "5.26.0"
}
