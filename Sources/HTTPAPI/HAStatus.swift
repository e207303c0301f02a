/// The role of this instance in an HA cluster, as the HA status endpoints report it.
public enum HARole: String, Sendable, Hashable {
    case master
    case slave
    /// Joining, electing, switching role (Neo4j's PENDING, TO_MASTER, TO_SLAVE): not serving either role yet.
    case pending
    case unknown
}

/// What the HA status endpoints need from the cluster. `TrellisServer` implements it over the cluster member;
/// on a single instance (no cluster) pass nil to `HTTPServer`, and the endpoints answer as a non-HA Neo4j does.
public protocol HAStatusProvider: AnyObject, Sendable {
    /// This instance's current role. Called from a worker thread for every status request, so keep it cheap.
    var currentRole: HARole { get }
    /// False while the instance cannot serve requests in its role (for example a slave still copying the store):
    /// it then reports UNKNOWN like any other in-between state.
    var isAvailable: Bool { get }
}

/// The answers of `/db/manage/server/ha/{master,slave,available}` (neo4j-ha.md §7; Neo4j's MasterInfoService):
/// plain-text `true`/`false`/`master`/`slave`/`UNKNOWN` bodies with 200 or 404.
enum HAStatusEndpoint: String, Sendable {
    case master
    case slave
    case available

    /// (HTTP status code, text/plain body) for a role. Only a master or slave that is available counts as
    /// that role; everything else is UNKNOWN.
    func answer(role: HARole, available: Bool) -> (status: Int, body: String) {
        let effective: HARole = available ? role : .unknown
        switch (self, effective) {
        case (.master, .master): return (200, "true")
        case (.master, .slave): return (404, "false")
        case (.slave, .slave): return (200, "true")
        case (.slave, .master): return (404, "false")
        case (.available, .master): return (200, "master")
        case (.available, .slave): return (200, "slave")
        case (_, .pending), (_, .unknown): return (404, "UNKNOWN")
        }
    }
}
