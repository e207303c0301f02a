import Cypher
import Foundation
import GraphKernel
import GraphValues

// Runs openCypher TCK scenarios in-process through `CypherEngine` over the real storage kernel (a fresh
// `GraphDatabase` on a simulated disk for every "Given … graph" step), one auto-commit transaction per query
// (committed on success, rolled back on error, as a Bolt auto-commit run would be), judging them
// exactly as /work/shared/tck/tck_runner.py does with its default options (`--side-effects diff`, no procedure
// registration, strict summary), so the in-process and Bolt pass rates agree:
// - "the result should be …" compares column names, then rows (in order or as a multiset) with TCK equality;
// - "a <Type> should be raised at <phase>: <Detail>" passes loosely on any error and strictly when the last part
//   of the status code equals <Type> (phase and detail are not judged);
// - side effects are measured by diffing the graph before and after the query (nodes/relationships by id, labels
//   as the set of labels in use, properties as (entity, key, value) multisets);
// - "there exists a procedure" and CSV fixture steps are skipped, as the Bolt runner skips them.

/// The outcome of one scenario (statuses as in tck_runner.py: pass, fail, error, timeout, skipped).
struct TCKOutcome {
    var status: String
    /// True for a strict pass (right result, or the right error class).
    var strict: Bool
    var reason: String = ""
}

private struct StepFailure: Error {
    var status: String
    var reason: String
}

/// What running one query produced.
private struct QueryRun {
    var columns: [String] = []
    var rows: [[TCKValue]] = []
    var counters: [String: Int] = [:]
    var error: DatabaseError?
    var phase = "compile time"
}

private struct GraphState {
    var nodes: Set<Int64>
    var rels: Set<Int64>
    var labels: Set<String>
    var properties: [String: Int]
}

private let sideEffectKeys = [
    "+nodes", "-nodes", "+relationships", "-relationships", "+labels", "-labels", "+properties", "-properties",
]

private func short(_ s: String, _ n: Int = 300) -> String {
    let t = s.replacingOccurrences(of: "\n", with: " ")
    return t.count <= n ? t : String(t.prefix(n)) + "..."
}

private func tableText(_ columns: [String], _ rows: [[TCKValue]], limit: Int = 6) -> String {
    let body = rows.prefix(limit).map { "|" + $0.map(\.text).joined(separator: "|") + "|" }.joined(separator: "; ")
    let more = rows.count > limit ? " (+\(rows.count - limit) more)" : ""
    return "cols=\(columns) rows[\(rows.count)]: \(body)\(more)"
}

/// tck_runner.py's `neo4j_code_matches`.
func tckCodeMatches(expected: String, code: String) -> Bool {
    if code.isEmpty { return false }
    if expected == "Error" { return true }
    let last = code.split(separator: ".").last.map(String.init) ?? code
    if expected == "ProcedureError" { return code.contains(".Procedure.") }
    if expected == "ConstraintVerificationFailed" || expected == "ConstraintValidationFailed" {
        return last == "ConstraintVerificationFailed" || last == "ConstraintValidationFailed"
    }
    return last == expected
}

final class TCKRunner {
    let graphsDirectory: URL
    /// Transaction time-out per query (the kernel checks it on every operation).
    let secondsPerQuery: Double
    private(set) var database: GraphDatabase
    let engine = CypherEngine()
    /// Register "there exists a procedure" fixtures (the Bolt runner's `--procedure-query`); off by default so the
    /// in-process and Bolt numbers agree.
    let registerProcedures: Bool
    private var registeredProcedures: [String] = []

    init(graphsDirectory: URL, secondsPerQuery: Double = 10, registerProcedures: Bool = false) throws {
        self.graphsDirectory = graphsDirectory
        self.secondsPerQuery = secondsPerQuery
        self.registerProcedures = registerProcedures
        self.database = try TCKRunner.freshDatabase()
    }

    deinit { try? database.close() }

    /// The real kernel on a simulated disk: the same code paths as on a file system, without paying an fsync per
    /// auto-commit query thousands of times (durability is the kernel's own tests' business). A new store per
    /// scenario keeps whole-graph scans (side-effect snapshots) proportional to the scenario's own data.
    private static func freshDatabase() throws -> GraphDatabase {
        try GraphDatabase(
            directory: "/tck",
            configuration: KernelConfiguration(pageCacheSizeBytes: 8 << 20, fileSystem: SimulatedFileSystem()))
    }

    /// Replaces the database by an empty one (the Bolt runner's `MATCH (n) DETACH DELETE n` plus schema drop).
    func reset() throws {
        try? database.close()
        database = try TCKRunner.freshDatabase()
    }

    private func graphScript(_ name: String) throws -> [String] {
        let url = graphsDirectory.appendingPathComponent(name).appendingPathComponent("\(name).cypher")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw StepFailure(status: "error", reason: "named graph '\(name)' not found at \(url.path)")
        }
        // Statements end with ';' at the end of a line (or of the file).
        var statements: [String] = []
        var current = ""
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasSuffix(";") {
                current += String(trimmed.dropLast()) + "\n"
                statements.append(current)
                current = ""
            } else {
                current += line + "\n"
            }
        }
        statements.append(current)
        return statements.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    private func execute(_ query: String, _ parameters: [String: Value]) -> QueryRun {
        var run = QueryRun()
        let tx: KernelTransaction
        do {
            tx = try database.beginTransaction(mode: .write, timeout: .milliseconds(Int64(secondsPerQuery * 1000)))
        } catch {
            run.error = DatabaseError(.transactionStartFailed, "\(error)")
            return run
        }
        do {
            let result = try engine.execute(query, parameters: parameters, transaction: tx)
            run.phase = "runtime"
            run.columns = result.columns
            while let row = try result.next() {
                run.rows.append(row.map(TCKValue.init))
            }
            let s = result.statistics
            run.counters = [
                "+nodes": s.nodesCreated, "-nodes": s.nodesDeleted, "+relationships": s.relationshipsCreated,
                "-relationships": s.relationshipsDeleted, "+labels": s.labelsAdded, "-labels": s.labelsRemoved,
                "+properties": s.propertiesSet,
            ]
            try tx.commit()
        } catch let e as DatabaseError {
            if tx.isOpen { tx.rollback() }
            run.error = e
        } catch {
            if tx.isOpen { tx.rollback() }
            run.error = DatabaseError(.unknownError, "\(error)")
        }
        return run
    }

    private func snapshot() throws -> GraphState {
        try database.read { try snapshot($0) }
    }

    private func snapshot(_ graph: KernelTransaction) throws -> GraphState {
        var nodes = Set<Int64>()
        var rels = Set<Int64>()
        var labels = Set<String>()
        var props: [String: Int] = [:]
        for node in try graph.allNodes() {
            nodes.insert(node.rawValue)
            for l in try graph.labels(of: node) { labels.insert(try graph.labelName(l)) }
            for (k, v) in try graph.nodeProperties(node) {
                props["n\(node.rawValue)|\(try graph.propertyKeyName(k))|\(TCKValue(v).canonical(false))", default: 0]
                    += 1
            }
        }
        for rel in try graph.allRelationships() {
            rels.insert(rel.id.rawValue)
            for (k, v) in try graph.relationshipProperties(rel.id) {
                props["r\(rel.id.rawValue)|\(try graph.propertyKeyName(k))|\(TCKValue(v).canonical(false))",
                    default: 0] += 1
            }
        }
        return GraphState(nodes: nodes, rels: rels, labels: labels, properties: props)
    }

    private func difference(_ before: GraphState, _ after: GraphState) -> [String: Int] {
        func minus(_ a: [String: Int], _ b: [String: Int]) -> Int {
            a.reduce(0) { $0 + max(0, $1.value - (b[$1.key] ?? 0)) }
        }
        return [
            "+nodes": after.nodes.subtracting(before.nodes).count,
            "-nodes": before.nodes.subtracting(after.nodes).count,
            "+relationships": after.rels.subtracting(before.rels).count,
            "-relationships": before.rels.subtracting(after.rels).count,
            "+labels": after.labels.subtracting(before.labels).count,
            "-labels": before.labels.subtracting(after.labels).count,
            "+properties": minus(after.properties, before.properties),
            "-properties": minus(before.properties, after.properties),
        ]
    }

    /// tck_runner.py's `reconcile_id_reuse`: trust the engine's counters when a reused id hides a delete+create.
    private func reconcileIdReuse(_ got: [String: Int], _ counters: [String: Int], _ before: GraphState,
        _ after: GraphState) -> [String: Int]
    {
        var result = got
        for (kind, b, a) in [("nodes", before.nodes, after.nodes), ("relationships", before.rels, after.rels)] {
            guard let plus = counters["+" + kind], let minus = counters["-" + kind] else { continue }
            let k = plus - (got["+" + kind] ?? 0)
            if k > 0 && minus - (got["-" + kind] ?? 0) == k && k <= b.intersection(a).count {
                result["+" + kind] = plus
                result["-" + kind] = minus
            }
        }
        return result
    }

    private func compare(_ table: [[String]], _ run: QueryRun, ordered: Bool, unorderedLists: Bool) throws -> String? {
        let header = table.first ?? []
        var expected: [[TCKValue]] = []
        do {
            expected = try table.dropFirst().map { try $0.map(TCKValueParser.parse) }
        } catch {
            throw StepFailure(status: "error", reason: "runner: cannot parse expected value: \(error)")
        }
        if run.columns != header { return "columns differ: expected \(header), got \(run.columns)" }
        let ec = expected.map { $0.map { $0.canonical(unorderedLists) } }
        let ac = run.rows.map { $0.map { $0.canonical(unorderedLists) } }
        func counts(_ rows: [[Canonical]]) -> [[Canonical]: Int] {
            var d: [[Canonical]: Int] = [:]
            for r in rows { d[r, default: 0] += 1 }
            return d
        }
        let same = ordered ? ec == ac : counts(ec) == counts(ac)
        if same { return nil }
        if ec.count != ac.count {
            return "expected \(ec.count) rows, got \(ac.count); expected \(tableText(header, expected)); "
                + "got \(tableText(run.columns, run.rows))"
        }
        if !ordered {
            let ce = counts(ec)
            let ca = counts(ac)
            let missing = ec.firstIndex { (ce[$0] ?? 0) > (ca[$0] ?? 0) } ?? 0
            let extra = ac.firstIndex { (ca[$0] ?? 0) > (ce[$0] ?? 0) } ?? 0
            return "row mismatch: expected row |\(expected[missing].map(\.text).joined(separator: "|"))| not found; "
                + "unexpected row |\(run.rows[extra].map(\.text).joined(separator: "|"))|"
        }
        if counts(ec) == counts(ac) { return "rows in wrong order; got \(tableText(run.columns, run.rows))" }
        for (i, (a, b)) in zip(ec, ac).enumerated() where a != b {
            return "row \(i + 1): expected |\(expected[i].map(\.text).joined(separator: "|"))|, got "
                + "|\(run.rows[i].map(\.text).joined(separator: "|"))|"
        }
        return "rows differ"
    }

    func run(_ scenario: TCKScenario) -> TCKOutcome {
        if scenario.tags.contains("@ignore") { return TCKOutcome(status: "skipped", strict: false, reason: "tagged @ignore") }
        for name in registeredProcedures { engine.procedures.unregister(name) }
        registeredProcedures = []
        var parameters: [String: Value] = [:]
        var last: QueryRun?
        var before: GraphState?
        var after: GraphState?
        let needDiff = scenario.steps.contains {
            $0.text == "no side effects" || $0.text == "the side effects should be:"
        }
        var strict = true
        var reason = ""
        func isTimeout(_ e: DatabaseError?) -> Bool {
            guard let e else { return false }
            return e.code == .transactionTimedOut
        }
        do {
            for step in scenario.steps {
                let t = step.text
                if t == "an empty graph" || t == "any graph" {
                    try reset()
                    continue
                }
                if step.keyword == "Given", t.hasPrefix("the "), t.hasSuffix(" graph") {
                    let name = String(t.dropFirst(4).dropLast(6))
                    try reset()
                    for q in try graphScript(name) {
                        let r = execute(q, [:])
                        if let e = r.error {
                            throw StepFailure(status: "error",
                                reason: "named graph setup failed: \(e.code) \(short(e.message, 150))")
                        }
                    }
                    continue
                }
                if t == "having executed:" || t == "after having executed:" {
                    let r = execute(step.docString ?? "", [:])
                    if isTimeout(r.error) {
                        throw StepFailure(status: "timeout", reason: "setup query timed out")
                    }
                    if let e = r.error {
                        throw StepFailure(status: "error",
                            reason: "setup query failed: \(e.code) \(short(e.message, 200))")
                    }
                    continue
                }
                if t == "parameters are:" || t == "parameter values are:" {
                    for row in step.table ?? [] {
                        guard row.count == 2 else { throw StepFailure(status: "error", reason: "runner: bad parameter table") }
                        do {
                            parameters[row[0]] = try TCKValueParser.parse(row[1]).parameterValue()
                        } catch {
                            throw StepFailure(status: "error", reason: "runner: bad parameter value: \(error)")
                        }
                    }
                    continue
                }
                if t.hasPrefix("there exists a procedure ") && t.hasSuffix(":") {
                    guard registerProcedures else {
                        throw StepFailure(status: "skipped", reason: "needs test-procedure registration (--procedure-query)")
                    }
                    let signature = String(t.dropFirst("there exists a procedure ".count).dropLast())
                    try registerFixture(signature: signature, table: step.table ?? [])
                    continue
                }
                if t.hasPrefix("there exists a CSV file") {
                    throw StepFailure(status: "skipped", reason: "CSV fixture steps not supported")
                }
                if t == "executing query:" || t == "executing control query:" {
                    let control = t.hasPrefix("executing control")
                    if needDiff && !control { before = try snapshot() }
                    let r = execute(step.docString ?? "", parameters)
                    last = r
                    if isTimeout(r.error) {
                        throw StepFailure(status: "timeout", reason: "query timed out")
                    }
                    if needDiff && !control { after = try snapshot() }
                    continue
                }
                if t.hasPrefix("the result should be") {
                    guard let last else { throw StepFailure(status: "error", reason: "runner: result step without query") }
                    if let e = last.error {
                        throw StepFailure(status: "fail", reason: "unexpected error: \(e.code) \(short(e.message, 200))")
                    }
                    if t == "the result should be empty" {
                        if !last.rows.isEmpty {
                            throw StepFailure(status: "fail",
                                reason: "expected empty result, got \(tableText(last.columns, last.rows))")
                        }
                        continue
                    }
                    let ordered = t.hasPrefix("the result should be, in order")
                    let unorderedLists = t.contains("ignoring element order for lists")
                    let known = [
                        "the result should be, in any order:", "the result should be, in order:",
                        "the result should be (ignoring element order for lists):",
                        "the result should be, in order (ignoring element order for lists):",
                    ]
                    guard known.contains(t) else { throw StepFailure(status: "error", reason: "runner: unsupported step '\(t)'") }
                    if let message = try compare(step.table ?? [[]], last, ordered: ordered, unorderedLists: unorderedLists) {
                        throw StepFailure(status: "fail", reason: message)
                    }
                    continue
                }
                if let (type, detail) = errorStep(t) {
                    guard let last else { throw StepFailure(status: "error", reason: "runner: error step without query") }
                    guard let e = last.error else {
                        throw StepFailure(status: "fail",
                            reason: "expected \(type) (\(detail)) but query succeeded: "
                                + tableText(last.columns, last.rows, limit: 3))
                    }
                    if !tckCodeMatches(expected: type, code: e.code.rawValue) {
                        strict = false
                        reason = "error raised but category mismatch: expected \(type), got \(e.code) "
                            + short(e.message, 150)
                    }
                    continue
                }
                if t == "no side effects" || t == "the side effects should be:" {
                    var expected: [String: Int] = [:]
                    for k in sideEffectKeys { expected[k] = 0 }
                    if t != "no side effects" {
                        for row in step.table ?? [] where row.count == 2 { expected[row[0]] = Int(row[1]) ?? 0 }
                    }
                    guard let last else { throw StepFailure(status: "error", reason: "runner: side-effects step without query") }
                    if last.error != nil { continue }
                    guard let before, let after else {
                        throw StepFailure(status: "error", reason: "runner: no state snapshot for side effects")
                    }
                    var got = difference(before, after)
                    if got != expected && !last.counters.isEmpty {
                        got = reconcileIdReuse(got, last.counters, before, after)
                    }
                    if got != expected {
                        let diffs = sideEffectKeys.filter { expected[$0] != got[$0] }.map {
                            "\($0): expected \(expected[$0] ?? 0) got \(got[$0] ?? 0)"
                        }
                        throw StepFailure(status: "fail", reason: "side effects differ: " + diffs.joined(separator: ", "))
                    }
                    continue
                }
                throw StepFailure(status: "error", reason: "runner: unsupported step '\(step.keyword) \(t)'")
            }
        } catch let f as StepFailure {
            return TCKOutcome(status: f.status, strict: false, reason: f.reason)
        } catch {
            return TCKOutcome(status: "error", strict: false, reason: "runner: \(error)")
        }
        return TCKOutcome(status: "pass", strict: strict, reason: reason)
    }

    /// Registers a TCK fixture procedure, e.g. `test.my.proc(name :: STRING?, id :: INTEGER?) :: (city :: STRING?)`
    /// with a table whose first columns are the inputs and the rest the outputs: a call yields the output part of
    /// every row whose inputs equal the arguments (numbers compare by value, as NUMBER parameters coerce).
    private func registerFixture(signature: String, table: [[String]]) throws {
        func fields(_ text: Substring) -> [(String, String)] {
            text.split(separator: ",").compactMap { field in
                let parts = field.components(separatedBy: "::")
                guard parts.count == 2 else { return nil }
                return (parts[0].trimmingCharacters(in: .whitespaces), parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        guard let open = signature.firstIndex(of: "("), let close = signature.firstIndex(of: ")"),
            let outputsOpen = signature[close...].dropFirst().firstIndex(of: "("),
            let outputsClose = signature.lastIndex(of: ")")
        else {
            throw StepFailure(status: "error", reason: "runner: cannot read procedure signature '\(signature)'")
        }
        let name = signature[..<open].trimmingCharacters(in: .whitespaces)
        let inputs = fields(signature[signature.index(after: open)..<close])
        let outputs = fields(signature[signature.index(after: outputsOpen)..<outputsClose])
        var rows: [[Value]] = []
        for row in table.dropFirst() {
            rows.append(try row.map { try TCKValueParser.parse($0).parameterValue() })
        }
        let inputCount = inputs.count
        func same(_ a: Value, _ b: Value) -> Bool {
            switch (a, b) {
            case (.integer(let x), .float(let y)), (.float(let y), .integer(let x)): return Double(x) == y
            default: return a == b
            }
        }
        let definition = ProcedureDefinition(
            name: name,
            parameters: inputs.map { ProcedureParameter($0.0, $0.1) },
            outputs: outputs.map { (name: $0.0, type: $0.1) },
            body: { _, arguments in
                rows.filter { row in
                    zip(row.prefix(inputCount), arguments).allSatisfy { same($0, $1) }
                }.map { Array($0.dropFirst(inputCount)) }
            })
        engine.procedures.register(definition)
        registeredProcedures.append(name)
    }

    /// `a SyntaxError should be raised at compile time: UndefinedVariable` → (SyntaxError, UndefinedVariable).
    private func errorStep(_ text: String) -> (String, String)? {
        guard text.hasPrefix("a ") || text.hasPrefix("an ") else { return nil }
        guard let raised = text.range(of: " should be raised at ") else { return nil }
        let type = text[text.index(after: text.firstIndex(of: " ")!)..<raised.lowerBound]
        let rest = text[raised.upperBound...]
        guard let colon = rest.range(of: ": ") else { return nil }
        return (String(type), String(rest[colon.upperBound...]))
    }
}
