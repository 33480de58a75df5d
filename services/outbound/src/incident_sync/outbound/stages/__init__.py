"""The worker's stages, in the order a change travels them, one package each holding its faust
wiring (`agent.py`) beside its logic:

- `gate`: `sync.inbound` -> the gate's ordered guards (`gate.guards`) -> `sync.changes`;
- `arbiter`: `sync.changes` -> conflicts settled, writes planned -> `sync.outbound`;
- `delivery`: `sync.outbound` -> one attempt through the tool's throttle -> the ladder
  (`sync.retry.<n>`, `sync.dlq`);
- `hold`: commands of a paused integration, kept in order and let out on resume;
- `relay`: the retry relay, `sync.retry.<n>` -> `sync.outbound` (or `sync.inbound`) when due.

What every stage uses (the context, the state store, lanes, metrics, the quarantine, the
durable retries) stays in `incident_sync.outbound`. Importing a stage's logic never builds
the faust App: only its `agent` module does.
"""
