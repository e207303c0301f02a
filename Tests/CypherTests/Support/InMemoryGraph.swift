import GraphKernel
import GraphValues

/// A simple, dictionary-backed `GraphWriteOperations` so Cypher tests run without the storage kernel.
///
/// Everything is applied immediately (there is no commit or rollback); reads of deleted entities throw
/// `EntityNotFound` like the kernel. Index seeks are answered by scanning the label, so they are correct but
/// not fast. `readHook` is called on every read so tests can inject time-outs or termination.
final class InMemoryGraph: GraphWriteOperations {
    private struct Node {
        var labels: [LabelToken]
        var properties: [PropertyKeyToken: Value]
    }

    private struct Rel {
        var info: RelationshipInfo
        var properties: [PropertyKeyToken: Value]
    }

    private var labelNames: [String] = []
    private var typeNames: [String] = []
    private var keyNames: [String] = []
    private var nodes: [Int64: Node] = [:]
    private var rels: [Int64: Rel] = [:]
    private var relsOfNode: [Int64: [Int64]] = [:]
    private var nextNode: Int64 = 0
    private var nextRel: Int64 = 0
    private var indexList: [IndexDescriptor] = []
    private var constraintList: [ConstraintDescriptor] = []
    /// Number of reads made (tests check laziness with it).
    private(set) var reads = 0
    /// Called before every read; throw from it to simulate a time-out or termination.
    var readHook: (() throws -> Void)?

    init() {}

    func checkUsable() throws { try readHook?() }

    private func read() throws {
        reads += 1
        try readHook?()
    }

    private func node(_ id: NodeID) throws -> Node {
        try read()
        guard let n = nodes[id.rawValue] else {
            throw DatabaseError(.entityNotFound, "Node with id \(id.rawValue) has been deleted in this transaction")
        }
        return n
    }

    private func rel(_ id: RelationshipID) throws -> Rel {
        try read()
        guard let r = rels[id.rawValue] else {
            throw DatabaseError(.entityNotFound,
                                "Relationship with id \(id.rawValue) has been deleted in this transaction")
        }
        return r
    }

    // MARK: Tokens
    func labelToken(_ name: String) throws -> LabelToken? { labelNames.firstIndex(of: name).map(LabelToken.init) }
    func relationshipTypeToken(_ name: String) throws -> RelationshipTypeToken? {
        typeNames.firstIndex(of: name).map(RelationshipTypeToken.init)
    }
    func propertyKeyToken(_ name: String) throws -> PropertyKeyToken? {
        keyNames.firstIndex(of: name).map(PropertyKeyToken.init)
    }
    func labelName(_ token: LabelToken) throws -> String { labelNames[Int(token)] }
    func relationshipTypeName(_ token: RelationshipTypeToken) throws -> String { typeNames[Int(token)] }
    func propertyKeyName(_ token: PropertyKeyToken) throws -> String { keyNames[Int(token)] }
    func allLabels() throws -> [(LabelToken, String)] { labelNames.enumerated().map { (LabelToken($0.offset), $0.element) } }
    func allRelationshipTypes() throws -> [(RelationshipTypeToken, String)] {
        typeNames.enumerated().map { (RelationshipTypeToken($0.offset), $0.element) }
    }
    func allPropertyKeys() throws -> [(PropertyKeyToken, String)] {
        keyNames.enumerated().map { (PropertyKeyToken($0.offset), $0.element) }
    }

    // MARK: Nodes
    func nodeExists(_ node: NodeID) throws -> Bool {
        try read()
        return nodes[node.rawValue] != nil
    }

    func allNodes() throws -> AnyIterator<NodeID> {
        try read()
        let ids = nodes.keys.sorted()
        var i = 0
        return AnyIterator { [weak self] in
            while i < ids.count {
                let id = ids[i]
                i += 1
                self?.reads += 1
                if self?.nodes[id] != nil { return NodeID(id) }
            }
            return nil
        }
    }

    func nodes(withLabel label: LabelToken) throws -> AnyIterator<NodeID> {
        try read()
        let ids = nodes.filter { $0.value.labels.contains(label) }.keys.sorted()
        var i = 0
        return AnyIterator { [weak self] in
            while i < ids.count {
                let id = ids[i]
                i += 1
                self?.reads += 1
                if let n = self?.nodes[id], n.labels.contains(label) { return NodeID(id) }
            }
            return nil
        }
    }

    func labels(of node: NodeID) throws -> [LabelToken] { try self.node(node).labels }
    func hasLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool { try self.node(node).labels.contains(label) }
    func nodeProperty(_ node: NodeID, _ key: PropertyKeyToken) throws -> Value {
        try self.node(node).properties[key] ?? .null
    }
    func nodeProperties(_ node: NodeID) throws -> [(PropertyKeyToken, Value)] {
        try self.node(node).properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    // MARK: Relationships
    func relationshipExists(_ rel: RelationshipID) throws -> Bool {
        try read()
        return rels[rel.rawValue] != nil
    }
    func relationship(_ rel: RelationshipID) throws -> RelationshipInfo { try self.rel(rel).info }

    func allRelationships() throws -> AnyIterator<RelationshipInfo> {
        try read()
        let ids = rels.keys.sorted()
        var i = 0
        return AnyIterator { [weak self] in
            while i < ids.count {
                let id = ids[i]
                i += 1
                if let r = self?.rels[id] { return r.info }
            }
            return nil
        }
    }

    func relationships(of node: NodeID, direction: Direction, types: [RelationshipTypeToken])
        throws -> AnyIterator<RelationshipInfo>
    {
        _ = try self.node(node)
        let candidates = (relsOfNode[node.rawValue] ?? []).compactMap { rels[$0]?.info }
        let matching = candidates.filter { info in
            if !types.isEmpty && !types.contains(info.type) { return false }
            switch direction {
            case .outgoing: return info.startNode == node
            case .incoming: return info.endNode == node
            case .both: return true
            }
        }
        return AnyIterator(matching.makeIterator())
    }

    func degree(of node: NodeID, direction: Direction, types: [RelationshipTypeToken]) throws -> Int {
        var n = 0
        let it = try relationships(of: node, direction: direction, types: types)
        while it.next() != nil { n += 1 }
        return n
    }

    func relationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken) throws -> Value {
        try self.rel(rel).properties[key] ?? .null
    }
    func relationshipProperties(_ rel: RelationshipID) throws -> [(PropertyKeyToken, Value)] {
        try self.rel(rel).properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    // MARK: Schema and seeks
    func indexes() throws -> [IndexDescriptor] { indexList }
    func constraints() throws -> [ConstraintDescriptor] { constraintList }
    func index(label: LabelToken, propertyKey: PropertyKeyToken) throws -> IndexDescriptor? {
        indexList.first { $0.label == label && $0.propertyKey == propertyKey }
    }

    private func indexed(_ index: IndexDescriptor, where predicate: (Value) -> Bool) throws -> AnyIterator<NodeID> {
        try read()
        let ids = nodes.filter { entry in
            guard entry.value.labels.contains(index.label), let v = entry.value.properties[index.propertyKey] else {
                return false
            }
            return predicate(v)
        }.keys.sorted()
        return AnyIterator(ids.map(NodeID.init).makeIterator())
    }

    func indexSeek(_ index: IndexDescriptor, equals value: Value) throws -> AnyIterator<NodeID> {
        try indexed(index) { Self.equal($0, value) }
    }

    func indexSeek(_ index: IndexDescriptor, lower: RangeBound?, upper: RangeBound?) throws -> AnyIterator<NodeID> {
        try indexed(index) { v in
            if let lower {
                guard let c = Self.compare(v, lower.value), c > 0 || (c == 0 && lower.inclusive) else { return false }
            }
            if let upper {
                guard let c = Self.compare(v, upper.value), c < 0 || (c == 0 && upper.inclusive) else { return false }
            }
            return true
        }
    }

    func indexSeek(_ index: IndexDescriptor, prefix: String) throws -> AnyIterator<NodeID> {
        try indexed(index) { v in
            if case .string(let s) = v { return s.hasPrefix(prefix) }
            return false
        }
    }

    private static func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.integer(let x), .float(let y)): return Double(x) == y
        case (.float(let x), .integer(let y)): return x == Double(y)
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        default: return a == b
        }
    }

    private static func compare(_ a: Value, _ b: Value) -> Int? {
        func cmp<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x > y ? 1 : 0) }
        switch (a, b) {
        case (.integer(let x), .integer(let y)): return cmp(x, y)
        case (.integer(let x), .float(let y)): return cmp(Double(x), y)
        case (.float(let x), .integer(let y)): return cmp(x, Double(y))
        case (.float(let x), .float(let y)): return cmp(x, y)
        case (.string(let x), .string(let y)): return cmp(x, y)
        case (.boolean(let x), .boolean(let y)): return cmp(x ? 1 : 0, y ? 1 : 0)
        default: return nil
        }
    }

    // MARK: Counts
    func countNodes(label: LabelToken?) throws -> Int {
        guard let label else { return nodes.count }
        return nodes.values.filter { $0.labels.contains(label) }.count
    }

    func countRelationships(startLabel: LabelToken?, type: RelationshipTypeToken?, endLabel: LabelToken?) throws -> Int {
        rels.values.filter { r in
            if let type, r.info.type != type { return false }
            if let startLabel, !(nodes[r.info.startNode.rawValue]?.labels.contains(startLabel) ?? false) { return false }
            if let endLabel, !(nodes[r.info.endNode.rawValue]?.labels.contains(endLabel) ?? false) { return false }
            return true
        }.count
    }

    // MARK: Writes
    func getOrCreateLabelToken(_ name: String) throws -> LabelToken {
        if let t = try labelToken(name) { return t }
        labelNames.append(name)
        return LabelToken(labelNames.count - 1)
    }
    func getOrCreateRelationshipTypeToken(_ name: String) throws -> RelationshipTypeToken {
        if let t = try relationshipTypeToken(name) { return t }
        typeNames.append(name)
        return RelationshipTypeToken(typeNames.count - 1)
    }
    func getOrCreatePropertyKeyToken(_ name: String) throws -> PropertyKeyToken {
        if let t = try propertyKeyToken(name) { return t }
        keyNames.append(name)
        return PropertyKeyToken(keyNames.count - 1)
    }

    func createNode(labels: [LabelToken]) throws -> NodeID {
        let id = nextNode
        nextNode += 1
        var unique: [LabelToken] = []
        for l in labels where !unique.contains(l) { unique.append(l) }
        nodes[id] = Node(labels: unique, properties: [:])
        return NodeID(id)
    }

    func deleteNode(_ node: NodeID) throws {
        _ = try self.node(node)
        if !(relsOfNode[node.rawValue] ?? []).isEmpty {
            throw DatabaseError(.constraintValidationFailed,
                                "Cannot delete node<\(node.rawValue)>, because it still has relationships. "
                                    + "To delete this node, you must first delete its relationships.")
        }
        nodes[node.rawValue] = nil
        relsOfNode[node.rawValue] = nil
    }

    func addLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool {
        var n = try self.node(node)
        if n.labels.contains(label) { return false }
        n.labels.append(label)
        try checkUnique(node.rawValue, n)
        nodes[node.rawValue] = n
        return true
    }

    func removeLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool {
        var n = try self.node(node)
        guard let i = n.labels.firstIndex(of: label) else { return false }
        n.labels.remove(at: i)
        nodes[node.rawValue] = n
        return true
    }

    func setNodeProperty(_ node: NodeID, _ key: PropertyKeyToken, _ value: Value) throws {
        var n = try self.node(node)
        if value.isNull {
            n.properties[key] = nil
        } else {
            guard value.isStorableProperty else {
                throw DatabaseError(.typeError, "Property values can only be of primitive types or arrays thereof")
            }
            n.properties[key] = value
        }
        try checkUnique(node.rawValue, n)
        nodes[node.rawValue] = n
    }

    func removeNodeProperty(_ node: NodeID, _ key: PropertyKeyToken) throws -> Value {
        var n = try self.node(node)
        let old = n.properties.removeValue(forKey: key) ?? .null
        nodes[node.rawValue] = n
        return old
    }

    private func checkUnique(_ id: Int64, _ n: Node) throws {
        for c in constraintList where n.labels.contains(c.label) {
            guard let v = n.properties[c.propertyKey] else { continue }
            for (otherID, other) in nodes where otherID != id && other.labels.contains(c.label) {
                if let ov = other.properties[c.propertyKey], Self.equal(ov, v) {
                    throw DatabaseError(.constraintValidationFailed,
                                        "Node(\(otherID)) already exists with label `\(labelNames[Int(c.label)])` "
                                            + "and property `\(keyNames[Int(c.propertyKey)])` = \(v)")
                }
            }
        }
    }

    func createRelationship(from start: NodeID, to end: NodeID, type: RelationshipTypeToken) throws -> RelationshipID {
        _ = try node(start)
        _ = try node(end)
        let id = nextRel
        nextRel += 1
        rels[id] = Rel(info: RelationshipInfo(id: RelationshipID(id), type: type, startNode: start, endNode: end),
                       properties: [:])
        relsOfNode[start.rawValue, default: []].append(id)
        if end != start { relsOfNode[end.rawValue, default: []].append(id) }
        return RelationshipID(id)
    }

    func deleteRelationship(_ rel: RelationshipID) throws {
        let r = try self.rel(rel)
        rels[rel.rawValue] = nil
        relsOfNode[r.info.startNode.rawValue]?.removeAll { $0 == rel.rawValue }
        relsOfNode[r.info.endNode.rawValue]?.removeAll { $0 == rel.rawValue }
    }

    func setRelationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken, _ value: Value) throws {
        var r = try self.rel(rel)
        if value.isNull {
            r.properties[key] = nil
        } else {
            guard value.isStorableProperty else {
                throw DatabaseError(.typeError, "Property values can only be of primitive types or arrays thereof")
            }
            r.properties[key] = value
        }
        rels[rel.rawValue] = r
    }

    func removeRelationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken) throws -> Value {
        var r = try self.rel(rel)
        let old = r.properties.removeValue(forKey: key) ?? .null
        rels[rel.rawValue] = r
        return old
    }

    // MARK: Schema writes
    func createIndex(name: String?, label: LabelToken, propertyKey: PropertyKeyToken) throws -> IndexDescriptor {
        if let existing = try index(label: label, propertyKey: propertyKey) {
            throw DatabaseError(.equivalentSchemaRuleAlreadyExists,
                                "An equivalent index already exists, '\(existing.name)'.")
        }
        let idx = IndexDescriptor(name: name ?? "index_\(indexList.count + 1)", label: label, propertyKey: propertyKey,
                                  isUnique: false, state: .online)
        indexList.append(idx)
        return idx
    }

    func dropIndex(name: String) throws {
        guard let i = indexList.firstIndex(where: { $0.name == name && !$0.isUnique }) else {
            throw DatabaseError(.indexNotFound, "Unable to drop index called `\(name)`. There is no such index.")
        }
        indexList.remove(at: i)
    }

    func createUniqueConstraint(name: String?, label: LabelToken, propertyKey: PropertyKeyToken) throws
        -> ConstraintDescriptor
    {
        if constraintList.contains(where: { $0.label == label && $0.propertyKey == propertyKey }) {
            throw DatabaseError(.equivalentSchemaRuleAlreadyExists, "An equivalent constraint already exists.")
        }
        var seen: [Value] = []
        for n in nodes.values where n.labels.contains(label) {
            guard let v = n.properties[propertyKey] else { continue }
            if seen.contains(where: { Self.equal($0, v) }) {
                throw DatabaseError(.constraintValidationFailed, "Unable to create constraint: duplicate value \(v)")
            }
            seen.append(v)
        }
        let c = ConstraintDescriptor(name: name ?? "constraint_\(constraintList.count + 1)", label: label,
                                     propertyKey: propertyKey)
        constraintList.append(c)
        indexList.removeAll { $0.label == label && $0.propertyKey == propertyKey }
        indexList.append(IndexDescriptor(name: c.name, label: label, propertyKey: propertyKey, isUnique: true,
                                         state: .online))
        return c
    }

    func dropConstraint(name: String) throws {
        guard let i = constraintList.firstIndex(where: { $0.name == name }) else {
            throw DatabaseError(.constraintNotFound, "Unable to drop constraint `\(name)`: No such constraint.")
        }
        let c = constraintList.remove(at: i)
        indexList.removeAll { $0.isUnique && $0.label == c.label && $0.propertyKey == c.propertyKey }
    }

    // MARK: Locks (single-threaded test graph: nothing to do)
    func acquireExclusiveLock(_ node: NodeID) throws {}
    func acquireSharedLock(_ node: NodeID) throws {}
    func acquireExclusiveLock(_ rel: RelationshipID) throws {}
    func acquireSharedLock(_ rel: RelationshipID) throws {}
}
