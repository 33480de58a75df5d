"""The retry relay: sync.retry.<n> -> sync.outbound (or sync.inbound) when due."""
