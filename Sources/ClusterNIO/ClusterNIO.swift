// ClusterNIO: see the module's doc comment in its main file.
