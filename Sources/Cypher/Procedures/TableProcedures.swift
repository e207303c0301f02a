import GraphValues

/// Procedures defined by a table, as the openCypher TCK's "there exists a procedure …" steps declare them: a
/// call returns the output columns of the rows whose input columns equal the arguments.
///
/// Registration from Cypher (`CALL trellis.test.registerTableProcedure($signature, $header, $rows)`, the form
/// tck_runner.py's `--procedure-query` runs) exists only in registries where a test harness enabled it with
/// `enableTableProcedureRegistration()`; production registries never offer it.
extension ProcedureRegistry {
    /// Adds `trellis.test.registerTableProcedure(signature, header, rows)` to this registry.
    public func enableTableProcedureRegistration() {
        register(ProcedureDefinition(
            name: "trellis.test.registerTableProcedure",
            parameters: [ProcedureParameter("signature", "STRING?"), ProcedureParameter("header", "LIST? OF STRING?"),
                         ProcedureParameter("rows", "LIST? OF LIST? OF ANY?")],
            outputs: [], mode: .dbms,
            description: "Test harness only: registers a procedure answering from a table."
        ) { [unowned self] _, args in
            guard case .string(let signature) = args[0], case .list(let header) = args[1],
                  case .list(let rows) = args[2] else {
                throw DatabaseError(.argumentError, "registerTableProcedure(signature, header, rows)")
            }
            let names = header.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
            let table = rows.map { $0.listItems }
            self.register(try ProcedureDefinition.table(signature: signature, header: names, rows: table))
            return []
        })
    }
}

extension ProcedureDefinition {
    /// A procedure from a TCK-style signature (`ns.name(a :: INTEGER?) :: (b :: STRING?)` or `… :: VOID`) and a
    /// table whose header names the inputs and outputs.
    public static func table(signature: String, header: [String], rows: [[Value]]) throws -> ProcedureDefinition {
        guard let open = signature.firstIndex(of: "("), let close = signature[open...].firstIndex(of: ")") else {
            throw DatabaseError(.argumentError, "Invalid procedure signature: \(signature)")
        }
        let name = signature[..<open].trimmingCharacters(in: .whitespaces)
        func fields(_ text: Substring) -> [(String, String)] {
            text.split(separator: ",").compactMap { f in
                let parts = f.components(separatedBy: "::")
                guard parts.count == 2 else { return nil }
                return (parts[0].trimmingCharacters(in: .whitespaces), parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        let inputs = fields(signature[signature.index(after: open)..<close])
        var rest = signature[signature.index(after: close)...].trimmingCharacters(in: .whitespaces)
        if rest.hasPrefix("::") { rest = String(rest.dropFirst(2)).trimmingCharacters(in: .whitespaces) }
        var outputs: [(String, String)] = []
        if rest.hasPrefix("("), let end = rest.lastIndex(of: ")") {
            outputs = fields(rest[rest.index(after: rest.startIndex)..<end])
        }
        let inputIndex = inputs.map { i in header.firstIndex(of: i.0) }
        let outputIndex = outputs.map { o in header.firstIndex(of: o.0) }
        return ProcedureDefinition(
            name: name, parameters: inputs.map { ProcedureParameter($0.0, $0.1) },
            outputs: outputs.map { (name: $0.0, type: $0.1) }, mode: .read, description: "Table procedure"
        ) { _, args in
            var out: [[Value]] = []
            for row in rows {
                var matches = true
                for (k, idx) in inputIndex.enumerated() {
                    guard let idx, idx < row.count else { continue }
                    if Semantics.equals(row[idx], args[k]) != true && !(row[idx].isNull && args[k].isNull) {
                        matches = false
                        break
                    }
                }
                if matches { out.append(outputIndex.map { idx in idx.flatMap { $0 < row.count ? row[$0] : nil } ?? .null }) }
            }
            return out
        }
    }
}
