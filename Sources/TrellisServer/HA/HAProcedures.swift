import Cypher
import Foundation
import GraphValues

/// Procedures describing this HA member (neo4j-ha.md §8). Neo4j 3.x HA exposed its state through JMX only, read
/// with `dbms.queryJmx("org.neo4j:instance=kernel#0,name=High Availability")`; that bean is served here with the
/// same shape (columns name, description, attributes; attributes a map of {description, value}). Trellis adds
/// `dbms.cluster.role()` (master/slave/UNKNOWN) and `dbms.cluster.overview()` in causal clustering's column shape,
/// because tools and drivers look for them.
public enum HAProcedures {
    public static let haBeanName = "org.neo4j:instance=kernel#0,name=High Availability"

    public static func register(in registry: ProcedureRegistry, ha: HAInstance) {
        let ref = WeakHA(ha)
        func live() throws -> HAInstance {
            guard let ha = ref.value else { throw DatabaseError(.databaseUnavailable, "The server is stopping.") }
            return ha
        }
        registry.register(ProcedureDefinition(
            name: "dbms.cluster.role", outputs: [("role", "STRING?")], mode: .dbms,
            description: "The role of this instance in the HA cluster: master, slave or UNKNOWN."
        ) { _, _ in [[.string(try live().roleName)]] })
        registry.register(ProcedureDefinition(
            name: "dbms.cluster.overview",
            outputs: [("id", "STRING?"), ("addresses", "LIST? OF STRING?"), ("role", "STRING?"),
                      ("groups", "LIST? OF STRING?"), ("database", "STRING?")],
            mode: .dbms, description: "Overview of the members of the HA cluster, as this instance sees them."
        ) { _, _ in
            try live().members.sorted { $0.id < $1.id }.map { m in
                [.string(String(m.id.rawValue)), .list(uris(of: m).map(Value.string)), .string(role(of: m)),
                 .list([]), .string("neo4j")]
            }
        })
        registry.register(ProcedureDefinition(
            name: "dbms.queryJmx", parameters: [ProcedureParameter("query", "STRING?")],
            outputs: [("name", "STRING?"), ("description", "STRING?"), ("attributes", "MAP?")], mode: .dbms,
            description: "Query JMX management data by domain and name, e.g. \"org.neo4j:*\"."
        ) { _, args in
            guard case .string(let pattern) = args.first ?? .null else {
                throw DatabaseError(.argumentError, "query must be a JMX object name pattern such as org.neo4j:*")
            }
            guard matches(pattern: pattern, name: haBeanName) else { return [] }
            return [[.string(haBeanName), .string("Information about the instance's role in the HA cluster"),
                     .map(try haBeanAttributes(try live()))]]
        })
    }

    /// The member's addresses as URIs, the way Neo4j's ClusterMemberInfo lists them.
    static func uris(of m: HAMember) -> [String] {
        var result: [String] = []
        if let bolt = m.bolt { result.append("bolt://\(bolt)") }
        if let http = m.http { result.append("http://\(http)") }
        if let data = m.data { result.append("ha://\(data)?serverId=\(m.id.rawValue)") }
        result.append("cluster://\(m.coordination)")
        return result
    }

    static func role(of m: HAMember) -> String {
        guard m.alive else { return "UNKNOWN" }
        if m.isArbiter { return "arbiter" }
        return m.role == "master" || m.role == "slave" ? m.role : "UNKNOWN"
    }

    /// The High Availability bean (neo4j-ha.md §8).
    static func haBeanAttributes(_ ha: HAInstance) throws -> [String: Value] {
        func attribute(_ description: String, _ value: Value) -> Value {
            .map(["description": .string(description), "value": value])
        }
        let members = ha.members.sorted { $0.id < $1.id }.map { m -> Value in
            let available = m.alive && (m.role == "master" || m.role == "slave")
            return .map([
                "instanceId": .string(String(m.id.rawValue)), "available": .boolean(available),
                "alive": .boolean(m.alive), "haRole": .string(role(of: m)),
                "uris": .list(uris(of: m).map(Value.string)),
                "roles": .list((m.isArbiter ? [] : (available ? [m.role] : [])).map(Value.string)),
            ])
        }
        let lastUpdate = ha.lastUpdateTime.map { Value.string(ISO8601DateFormatter().string(from: $0)) }
            ?? .string("N/A")
        let me = ha.members.first { $0.id == ha.configuration.serverID }
        return [
            "InstanceId": attribute("The identifier used to identify this server in the HA cluster",
                                    .string(String(ha.configuration.serverID.rawValue))),
            "Role": attribute("The role this instance has in the cluster", .string(ha.roleName)),
            "Available": attribute("Whether this instance is available or not", .boolean(ha.isAvailable)),
            "Alive": attribute("Whether this instance is alive or not", .boolean(me?.alive ?? true)),
            "LastCommittedTxId": attribute("The latest transaction id present in this instance's store",
                                           .integer(ha.engine.lastCommittedTxID)),
            "LastUpdateTime": attribute("The time when the data on this instance was last updated from the master",
                                        lastUpdate),
            "InstancesInCluster": attribute("Information about all instances in this cluster", .list(members)),
        ]
    }

    /// JMX object name patterns as tools use them: `*` matches any run of characters, the rest literally.
    static func matches(pattern: String, name: String) -> Bool {
        let p = Array(pattern)
        let n = Array(name)
        var memo: [Int: Bool] = [:]
        func match(_ i: Int, _ j: Int) -> Bool {
            let key = i * (n.count + 1) + j
            if let known = memo[key] { return known }
            let result: Bool
            if i == p.count {
                result = j == n.count
            } else if p[i] == "*" {
                result = match(i + 1, j) || (j < n.count && match(i, j + 1))
            } else {
                result = j < n.count && p[i] == n[j] && match(i + 1, j + 1)
            }
            memo[key] = result
            return result
        }
        return match(0, 0)
    }
}

/// Procedure bodies outlive nothing: the instance owns the engine that owns the registry.
final class WeakHA: @unchecked Sendable {
    weak var value: HAInstance?
    init(_ value: HAInstance) { self.value = value }
}
