"""Authorization: every request's decision comes from a Rego policy evaluated in-process.

The engine is regorus (`gordon-to-regorus`): it evaluates rule defaults correctly and takes a
few microseconds a decision. The policy file is watched: when its modification time or size
changes it is compiled again; a file that does not compile leaves the previous policy in
force (and says so in the log), so a typo never opens or closes everything.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Final

import regorus

log = logging.getLogger("control.policy")

PACKAGE: Final = "data.incident_sync.control"


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str


class PolicyError(RuntimeError):
    pass


class Policy:
    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._engine = self._compile()

    def _compile(self) -> Any:
        try:
            stat = os.stat(self.path)
            engine = regorus.Engine()
            engine.add_policy_from_file(self.path)
            # Evaluate once: a policy that compiles but has no `allow` fails here, not later.
            engine.set_input({"subject": {}, "action": "", "resource": {}})
            engine.eval_rule(f"{PACKAGE}.allow")
        except (OSError, RuntimeError, ValueError) as exc:
            detail = str(exc).split("Stack backtrace")[0].strip()
            raise PolicyError(f"policy {self.path} cannot be used: {detail}") from None
        self._stamp = (stat.st_mtime_ns, stat.st_size)
        log.info("policy loaded", extra={"policy": self.path})
        return engine

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return  # keep the policy in force while the file is replaced
        if (stat.st_mtime_ns, stat.st_size) == self._stamp:
            return
        try:
            self._engine = self._compile()
        except PolicyError as exc:
            self._stamp = (stat.st_mtime_ns, stat.st_size)  # do not retry until it changes again
            log.error(
                "policy change rejected; the previous policy stays", extra={"error": str(exc)}
            )

    def decide(self, data: dict[str, Any]) -> Decision:
        self._refresh()
        engine = self._engine
        engine.set_input(data)
        allow = engine.eval_rule(f"{PACKAGE}.allow") is True
        if allow:
            return Decision(True, "allowed")
        try:
            reason = engine.eval_rule(f"{PACKAGE}.reason")
        except RuntimeError:
            reason = None
        return Decision(False, reason if isinstance(reason, str) else "denied by policy")
