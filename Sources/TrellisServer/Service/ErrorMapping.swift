import GraphKernel
import GraphValues

/// The one place where anything thrown below the service becomes what a client sees: a `DatabaseError` with a
/// Neo4j status code. Errors that already carry a code pass through; anything else is a server-side failure
/// (`Neo.DatabaseError.General.UnknownError`) whose text is kept for the operator.
public enum ErrorMapping {
    public static func map(_ error: any Error) -> DatabaseError {
        if let e = error as? DatabaseError { return e }
        if let e = error as? ConfigError { return DatabaseError(.invalidRequest, e.message) }
        if let e = error as? ConfigurationError { return e.databaseError }
        return DatabaseError(.unknownError, "\(error)")
    }

    /// Whether an error leaves the transaction unusable (Neo4j rolls back on every error except notifications).
    public static func rollsBack(_ error: DatabaseError) -> Bool {
        error.code.classification != "ClientNotification"
    }
}
