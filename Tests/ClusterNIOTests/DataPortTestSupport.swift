import ClusterCore
import Foundation
import GraphKernel
import GraphValues
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import ClusterNIO

/// A temporary directory removed by `cleanup()`.
struct DataTestDirectory {
    let root: String
    var path: String { root + "/db" }

    init() {
        root = NSTemporaryDirectory() + "trellis-data-port-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    func sub(_ name: String) -> String { root + "/" + name }

    func cleanup() { try? FileManager.default.removeItem(atPath: root) }
}

/// Every node and relationship with labels, type, ends and properties by name, for comparing two stores.
func graphDump(_ db: GraphDatabase) throws -> [String] {
    try db.read { tx in
        var lines: [String] = []
        for node in try tx.allNodes() {
            let labels = try tx.labels(of: node).map { try tx.labelName($0) }.sorted()
            let props = try tx.nodeProperties(node).map { "\(try tx.propertyKeyName($0.0))=\($0.1)" }.sorted()
            lines.append("n\(node.rawValue)\(labels)\(props)")
        }
        for rel in try tx.allRelationships() {
            let props = try tx.relationshipProperties(rel.id).map { "\(try tx.propertyKeyName($0.0))=\($0.1)" }
            lines.append(
                "r\(rel.id.rawValue):\(try tx.relationshipTypeName(rel.type)) n\(rel.startNode.rawValue)->"
                    + "n\(rel.endNode.rawValue)\(props.sorted())")
        }
        return lines.sorted()
    }
}

/// A master whose log rotates every `rotationBytes` and retains nothing, so a checkpoint prunes every log file that
/// nothing pins (store-copy and pruned-log tests).
func openPruningMaster(_ dirs: DataTestDirectory, rotationBytes: Int64 = 4096) throws -> GraphDatabase {
    var configuration = KernelConfiguration()
    configuration.log = LogConfiguration(rotationSizeBytes: rotationBytes, retention: .keepNone)
    return try GraphDatabase(directory: dirs.sub("master"), configuration: configuration)
}

/// Commits `count` transactions that each add a node linked to the previous one, plus a property update.
func commitChain(_ db: GraphDatabase, count: Int, tag: String = "m") throws {
    var previous: NodeID?
    for i in 0..<count {
        previous = try db.write { tx in
            let node = try tx.createNode(
                labels: ["Item"], properties: ["i": .integer(Int64(i)), "tag": .string(tag), "w": .float(Double(i) / 2)])
            if let previous {
                try tx.createRelationship(from: previous, to: node, type: "NEXT", properties: ["n": .integer(Int64(i))])
                try tx.setNodeProperty(previous, "next", .integer(Int64(i)))
            }
            return node
        }
    }
}

/// A data server on an ephemeral loopback port with a client connected to it.
struct DataPortFixture {
    let group: MultiThreadedEventLoopGroup
    let server: DataServer
    let client: DataClient

    static func start(
        _ database: GraphDatabase, forwarded: (any ForwardedTransactionHandler)? = nil,
        requestTimeout: Duration = .seconds(20)
    ) async throws -> DataPortFixture {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var logger = Logger(label: "data-port-test")
        logger.logLevel = .warning
        let server = DataServer(database: database, group: group, logger: logger, forwarded: forwarded)
        try await server.start(host: "127.0.0.1", port: 0)
        let client = DataClient(
            address: "127.0.0.1:\(server.boundPort)", group: group, logger: logger, requestTimeout: requestTimeout)
        return DataPortFixture(group: group, server: server, client: client)
    }

    func stop() async {
        await client.close()
        await server.stop()
        try? await group.shutdownGracefully()
    }
}

/// Pulls from `client` into `slave` until it has everything the member had when asked.
func catchUp(_ slave: GraphDatabase, from client: DataClient, limit: Int = 7) async throws -> Int {
    var applied = 0
    while true {
        let (batch, last) = try await client.pull(from: TxID(slave.lastCommittedTxID.rawValue + 1), limit: limit)
        for transaction in batch { try slave.applyReplicated(transaction) }
        applied += batch.count
        if slave.lastCommittedTxID >= last || batch.isEmpty { return applied }
    }
}
