"""Unit tests: the pure core, and static checks on the deployment files (no network, no servers)."""
