extension HATransport {
    /// The transport `trellis` uses for `dbms.mode=HA` and ARBITER: ClusterNIO's coordination and data port over
    /// TCP, and the kernel's replication hooks. Nil until those are part of the build.
    public static var standard: HATransport? { nil }
}
