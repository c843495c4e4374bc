"""zkstash executor: dumps ZooKeeper into restic repositories and restores from them."""
