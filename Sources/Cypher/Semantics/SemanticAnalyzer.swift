import GraphValues

/// Compile-time checks after parsing: variable scoping, aggregation rules, type conflicts.
public enum SemanticAnalyzer {
    /// Checks `statement` and returns it (possibly normalised).
    ///
    /// - Throws: `DatabaseError` with `.syntaxError` or `.semanticError`, as Neo4j classifies the problem
    ///   (the openCypher TCK names the detail, e.g. UndefinedVariable, VariableAlreadyBound).
    public static func analyze(_ statement: Statement) throws -> Statement {
        statement
    }
}
