/// A Neo4j status code such as `Neo.ClientError.Statement.SyntaxError`.
///
/// The classification (ClientError / ClientNotification / TransientError / DatabaseError) decides driver
/// behaviour: drivers retry TransientErrors in managed transactions. See shared reference neo4j-ops.md §9.
public struct StatusCode: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    /// "ClientError", "TransientError", "DatabaseError", …
    public var classification: String {
        let parts = rawValue.split(separator: ".")
        return parts.count > 1 ? String(parts[1]) : ""
    }

    public var isTransient: Bool { classification == "TransientError" }
}

extension StatusCode {
    // Statement
    public static let syntaxError: StatusCode = "Neo.ClientError.Statement.SyntaxError"
    public static let semanticError: StatusCode = "Neo.ClientError.Statement.SemanticError"
    public static let parameterMissing: StatusCode = "Neo.ClientError.Statement.ParameterMissing"
    public static let typeError: StatusCode = "Neo.ClientError.Statement.TypeError"
    public static let argumentError: StatusCode = "Neo.ClientError.Statement.ArgumentError"
    public static let arithmeticError: StatusCode = "Neo.ClientError.Statement.ArithmeticError"
    public static let entityNotFound: StatusCode = "Neo.ClientError.Statement.EntityNotFound"
    public static let notSupported: StatusCode = "Neo.ClientError.Statement.FeatureDeprecationWarning"
    public static let unsupportedFeature: StatusCode = "Neo.DatabaseError.Statement.ExecutionFailed"
    public static let externalResourceFailed: StatusCode = "Neo.ClientError.Statement.ExternalResourceFailed"
    public static let accessMode: StatusCode = "Neo.ClientError.Statement.AccessMode"
    // Schema
    public static let constraintValidationFailed: StatusCode = "Neo.ClientError.Schema.ConstraintValidationFailed"
    public static let equivalentSchemaRuleAlreadyExists: StatusCode =
        "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists"
    public static let indexNotFound: StatusCode = "Neo.ClientError.Schema.IndexNotFound"
    public static let constraintNotFound: StatusCode = "Neo.ClientError.Schema.ConstraintNotFound"
    public static let constraintAlreadyExists: StatusCode = "Neo.ClientError.Schema.ConstraintAlreadyExists"
    public static let indexAlreadyExists: StatusCode = "Neo.ClientError.Schema.IndexAlreadyExists"
    public static let procedureNotFound: StatusCode = "Neo.ClientError.Procedure.ProcedureNotFound"
    public static let procedureCallFailed: StatusCode = "Neo.ClientError.Procedure.ProcedureCallFailed"
    // Transaction
    public static let deadlockDetected: StatusCode = "Neo.TransientError.Transaction.DeadlockDetected"
    public static let lockClientStopped: StatusCode = "Neo.TransientError.Transaction.LockClientStopped"
    public static let transactionTimedOut: StatusCode = "Neo.ClientError.Transaction.TransactionTimedOut"
    public static let transactionTerminated: StatusCode = "Neo.ClientError.Transaction.Terminated"
    public static let transactionNotFound: StatusCode = "Neo.ClientError.Transaction.TransactionNotFound"
    public static let invalidBookmark: StatusCode = "Neo.ClientError.Transaction.InvalidBookmark"
    public static let bookmarkTimeout: StatusCode = "Neo.TransientError.Transaction.BookmarkTimeout"
    public static let transactionCommitFailed: StatusCode = "Neo.DatabaseError.Transaction.TransactionCommitFailed"
    public static let transactionStartFailed: StatusCode = "Neo.DatabaseError.Transaction.TransactionStartFailed"
    public static let lockAcquisitionTimeout: StatusCode = "Neo.TransientError.Transaction.LockAcquisitionTimeout"
    // Security
    public static let unauthorized: StatusCode = "Neo.ClientError.Security.Unauthorized"
    public static let credentialsExpired: StatusCode = "Neo.ClientError.Security.CredentialsExpired"
    public static let forbidden: StatusCode = "Neo.ClientError.Security.Forbidden"
    public static let authenticationRateLimit: StatusCode = "Neo.ClientError.Security.AuthenticationRateLimit"
    // Request / cluster / general
    public static let invalidFormat: StatusCode = "Neo.ClientError.Request.InvalidFormat"
    public static let invalidRequest: StatusCode = "Neo.ClientError.Request.Invalid"
    public static let notALeader: StatusCode = "Neo.ClientError.Cluster.NotALeader"
    public static let databaseUnavailable: StatusCode = "Neo.TransientError.General.DatabaseUnavailable"
    public static let unknownError: StatusCode = "Neo.DatabaseError.General.UnknownError"
    public static let outOfMemory: StatusCode = "Neo.TransientError.General.OutOfMemoryError"
    public static let storageDamageDetected: StatusCode = "Neo.DatabaseError.General.StorageDamageDetected"
}

/// An error any layer can raise, carrying the Neo4j status code that Bolt and HTTP report to clients.
public struct DatabaseError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String

    public init(_ code: StatusCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
