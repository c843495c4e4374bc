"""ZooKeeper access for the executor: connection, the multiRead protocol, reading and walking."""
