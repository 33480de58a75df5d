"""The domain of incident-sync, with no I/O: events, commands, topics, codecs and pure rules."""
