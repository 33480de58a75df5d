"""The Echo tool and its incident-sync connector, packaged on their own (a plugin)."""
