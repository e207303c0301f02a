import GraphValues

/// A function as `dbms.functions()` lists it.
struct FunctionInfo {
    var name: String
    var signature: String
    var description: String
}

/// The catalogue of built-in functions (for `dbms.functions()` and unknown-function errors).
enum FunctionCatalog {
    static var all: [FunctionInfo] {
        FunctionLibrary.names.sorted().map {
            FunctionInfo(name: $0, signature: "\($0)(…)", description: "Built-in Cypher function \($0).")
        }
    }
}
