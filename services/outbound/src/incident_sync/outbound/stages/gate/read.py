"""What the gate needs to know about a change, in one round trip (a Lua script).

In order, as the gate's guards ask: the delivery's dedupe mark (a duplicate stops there,
consuming nothing); then the echo fingerprints the event's values consume (whatever guard
drops the event afterwards; one that holds the version our write made is consumed only by an
event at that version or later: an older snapshot showing the value shows a person's); the
record's known state; the fields our write set at the event's version; and, when asked, the
record's incident (`link:`) and the incident's links and detached integrations. Reads the
gate may not need cost less than another round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from incident_sync.outbound.state import KnownState, parse_hash, parse_known, parse_ours
from incident_sync.syncstate import keys

# KEYS: seen, state, ours, link, links, detached, then one fingerprint key per field.
# ARGV: version ("" = none), read the link ("1"/""), read links and detached ("1"/""), then
# the field of each fingerprint key.
# Answers {1} for a duplicate, else {0, consumed flags, state, ours, link, links, detached}.
_READ = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {1}
end
-- Whether version a comes before b, byte by byte as Python compares str (Lua's own `<` on
-- strings follows the server's locale).
local function before(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end
local consumed = {}
for i = 7, #KEYS do
  local mark = redis.call('GET', KEYS[i])
  local hit = 0
  if mark and (mark == '1' or ARGV[1] == '' or not before(ARGV[1], mark)) then
    -- A value seen in the field after our write (ours or a person's) ends its echo.
    local seen = redis.call('HGET', KEYS[2], '\0v:' .. ARGV[i - 3])
    if mark ~= '1' and seen and before(mark, seen) then
      redis.call('DEL', KEYS[i])
    else
      hit = redis.call('DEL', KEYS[i])
    end
  end
  consumed[#consumed + 1] = hit
end
local ours = ''
if ARGV[1] ~= '' then
  ours = redis.call('HGET', KEYS[3], ARGV[1]) or ''
end
local link = ''
if ARGV[2] ~= '' then
  link = redis.call('GET', KEYS[4]) or ''
end
local links, detached = {}, {}
if ARGV[3] ~= '' then
  links = redis.call('HGETALL', KEYS[5])
  detached = redis.call('HKEYS', KEYS[6])
end
return {0, consumed, redis.call('HGETALL', KEYS[2]), ours, link, links, detached}
"""


@dataclass(frozen=True)
class GateRead:
    duplicate: bool
    echoed: set[str]  # fields whose value was the echo of our write (fingerprint consumed)
    known: KnownState
    ours: set[str]  # fields our write set at the event's version
    incident: str | None  # the record's platform incident, when asked
    links: dict[str, str] | None  # the incident's links, when asked
    detached: tuple[str, ...] | None  # integrations whose record was deleted


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class GateReader:
    def __init__(self, redis: Redis) -> None:
        self._read = redis.register_script(_READ)

    async def read(
        self,
        tenant: str,
        integration_id: str,
        external_id: str,
        *,
        delivery_id: str,
        consume: Mapping[str, str | None],
        version: str | None,
        incident_of_record: bool,
        incident: str | None,
    ) -> GateRead:
        """`consume`: field -> value whose fingerprints the event consumes; `incident`: the
        incident whose links to read (the platform's own events know it)."""
        names = list(consume)
        touched = [
            keys.seen(tenant, f"delivery:{integration_id}", delivery_id),
            keys.state(tenant, integration_id, external_id),
            keys.ours(tenant, integration_id, external_id),
            keys.link(tenant, integration_id, external_id),
            keys.links(tenant, incident or ""),
            keys.detached(tenant, incident or ""),
            *(
                keys.echo_fingerprint(tenant, integration_id, external_id, n, consume[n])
                for n in names
            ),
        ]
        args = [version or "", "1" if incident_of_record else "", "1" if incident else "", *names]
        answer = await self._read(keys=touched, args=args)
        if int(answer[0]) == 1:
            return GateRead(True, set(), KnownState({}, {}, {}), set(), None, None, None)
        _, consumed, state, ours, link, links, detached = answer
        return GateRead(
            duplicate=False,
            echoed={n for n, hit in zip(names, consumed, strict=True) if int(hit)},
            known=parse_known(state),
            ours=parse_ours(ours),
            incident=_s(link) or None,
            links=parse_hash(links) if incident else None,
            detached=tuple(sorted(_s(k) for k in detached)) if incident else None,
        )
