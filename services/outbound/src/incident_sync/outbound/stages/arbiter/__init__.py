"""The arbiter: sync.changes -> conflicts settled, writes planned -> sync.outbound."""
