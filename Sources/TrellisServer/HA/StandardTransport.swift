import Foundation
import GraphKernel

extension HATransport {
    /// The transport `trellis` uses for `dbms.mode=HA` and ARBITER: ClusterNIO's coordination and data port over
    /// TCP, and the kernel's replication hooks. Nil until those are part of the build.
    public static var standard: HATransport? { nil }

    /// The kernel side every transport shares: `GraphDatabase.setCommitGate` / `setCommitHook`.
    public static func installKernelHooks(
        _ database: GraphDatabase, gate: (@Sendable () throws -> Void)?,
        hook: (@Sendable (CommittedTransaction) throws -> Void)?
    ) {
        database.setCommitGate(gate)
        database.setCommitHook(hook)
    }

    /// `StoreDirectories.moveToBranched` with the `ha.branched_data_policy` text.
    public static func moveToBranched(databaseDirectory: String, policy: String) throws -> String {
        guard let keep = BranchedDataPolicy(settingValue: policy) else {
            throw LifecycleError("ha.branched_data_policy=\(policy) is not keep_all, keep_last or keep_none")
        }
        return try StoreDirectories.moveToBranched(databaseDirectory: databaseDirectory, keep: keep, now: Date())
    }
}
