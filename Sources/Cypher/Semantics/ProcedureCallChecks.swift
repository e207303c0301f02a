import Foundation
import GraphValues

extension SemanticAnalyzer {
    /// `analyze(_:)` plus the checks that need procedure signatures (Neo4j makes them at compile time):
    /// argument count, literal argument types against the declared types (InvalidArgumentType), implicit arguments
    /// in an in-query CALL (InvalidArgumentPassingMode) and YIELD of unknown outputs. Unknown procedures are left
    /// to the planner (ProcedureNotFound).
    ///
    /// - Throws: `DatabaseError(.syntaxError, …)` naming the TCK detail.
    public static func analyze(_ statement: Statement, procedures: ProcedureRegistry) throws -> Statement {
        let checked = try analyze(statement)
        guard case .query(let query) = checked.kind else { return checked }
        for single in query.singleQueries {
            try checkCalls(in: single.clauses, procedures: procedures)
        }
        return checked
    }

    private static func checkCalls(in clauses: [Clause], procedures: ProcedureRegistry) throws {
        for clause in clauses {
            switch clause {
            case .call(let call):
                guard let definition = procedures.lookup(call.qualifiedName) else { continue }
                try check(call, against: definition)
            case .foreach(let f):
                try checkCalls(in: f.clauses, procedures: procedures)
            case .subquery(let s):
                for single in s.query.singleQueries { try checkCalls(in: single.clauses, procedures: procedures) }
            default:
                continue
            }
        }
    }

    private static func error(_ message: String, _ detail: String, at position: SourcePosition) -> DatabaseError {
        DatabaseError(.syntaxError, "\(message) (\(detail)) (\(position))")
    }

    private static func check(_ call: ProcedureCall, against definition: ProcedureDefinition) throws {
        let parameters = definition.parameters
        guard let arguments = call.arguments else {
            // Standalone calls take their arguments from same-named statement parameters; inside a query that is
            // not allowed when the procedure has parameters.
            if !call.isStandalone && !parameters.isEmpty {
                throw error(
                    "Procedure call inside a query does not support passing arguments implicitly (pass explicitly "
                        + "after procedure name instead)", "InvalidArgumentPassingMode", at: call.position)
            }
            try checkYield(call, definition)
            return
        }
        let required = parameters.filter { $0.defaultValue == nil }.count
        if arguments.count > parameters.count || arguments.count < required {
            throw error(
                "Procedure call does not provide the required number of arguments: got \(arguments.count) expected "
                    + (required == parameters.count ? "\(required)" : "at least \(required) (total: \(parameters.count))")
                    + ". Procedure \(definition.signature)", "InvalidNumberOfArguments", at: call.position)
        }
        for (argument, parameter) in zip(arguments, parameters) {
            guard case .literal(let value) = argument.kind, !value.isNull else { continue }
            if !accepts(parameter.type, value) {
                throw error(
                    "Type mismatch: expected \(parameter.type.replacingOccurrences(of: "?", with: "")) but was "
                        + "\(typeName(value)) (argument `\(parameter.name)` of \(definition.name))",
                    "InvalidArgumentType", at: argument.position)
            }
        }
        try checkYield(call, definition)
    }

    private static func checkYield(_ call: ProcedureCall, _ definition: ProcedureDefinition) throws {
        let outputs = Set(definition.outputs.map(\.name))
        for item in call.yieldItems ?? [] where !outputs.contains(item.name) {
            throw error(
                "Unknown procedure output: `\(item.name)`", "UndefinedVariable", at: item.position)
        }
    }

    /// Whether a literal fits a declared Neo4j type (`INTEGER?`, `FLOAT?`, `NUMBER?`, `STRING?`, `LIST? OF …`, …).
    private static func accepts(_ declared: String, _ value: Value) -> Bool {
        let type = declared.uppercased().replacingOccurrences(of: "?", with: "")
            .trimmingCharacters(in: .whitespaces)
        switch type {
        case "ANY": return true
        case "INTEGER": if case .integer = value { return true } else { return false }
        case "FLOAT":
            switch value {
            case .float, .integer: return true
            default: return false
            }
        case "NUMBER":
            switch value {
            case .float, .integer: return true
            default: return false
            }
        case "STRING": if case .string = value { return true } else { return false }
        case "BOOLEAN": if case .boolean = value { return true } else { return false }
        default:
            if type.hasPrefix("LIST") { if case .list = value { return true } else { return false } }
            if type == "MAP" { if case .map = value { return true } else { return false } }
            // Entity, temporal and spatial types cannot be literals; anything else is left to the runtime.
            return true
        }
    }

    private static func typeName(_ value: Value) -> String {
        switch value {
        case .boolean: return "Boolean"
        case .integer: return "Integer"
        case .float: return "Float"
        case .string: return "String"
        case .list: return "List"
        case .map: return "Map"
        default: return "Any"
        }
    }
}
