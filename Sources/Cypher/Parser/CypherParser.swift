import GraphValues

/// Entry point of the Cypher front end: text → `Statement`.
public enum CypherParser {
    /// Parses one statement.
    ///
    /// - Throws: `DatabaseError(.syntaxError, …)` whose message ends with the position of the offending token,
    ///   in Neo4j's wording: `… (line 1, column 8 (offset: 7))`.
    public static func parse(_ query: String) throws -> Statement {
        // Interim: the recursive-descent parser replaces this in the next delivery.
        throw DatabaseError(.syntaxError, "Cypher parser not available yet (\(SourcePosition.start))")
    }
}
