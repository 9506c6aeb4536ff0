"""A scripted stand-in for Sluice's ROUTE.* commands, for testing the plugin's half of the protocol.

It is not Sluice: it picks uniformly (or by weight) among the group's deployments not excluded,
and records every command. The plugin tests use it to check what the plugin sends (CHAT, TAGS,
EXCLUDE, one ROUTE.DONE per lease with the right status and tokens) without the daemon; the
daemon tests (test_routing_daemon.py) check the same flows against the real ROUTE.* commands.
"""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import redis.exceptions

from sluice_litellm.connection import SluiceConnection


class ScriptedSluice(SluiceConnection):
    def __init__(self, on_unavailable: str = "litellm") -> None:
        super().__init__("redis://scripted:6380", on_unavailable=on_unavailable)  # type: ignore[arg-type]
        self.commands: list[tuple[str, ...]] = []
        self.groups: dict[str, dict[str, dict[str, Any]]] = {}
        self.settings: dict[str, Any] | None = None
        self.open: dict[str, str] = {}
        self.done: list[tuple[str, ...]] = []
        self.refuse_with: str | None = None
        self._lock = threading.Lock()
        self._next = 0

    def call(self, *args: Any) -> Any:
        return self._answer(tuple(str(a) for a in args))

    async def acall(self, *args: Any) -> Any:
        return self._answer(tuple(str(a) for a in args))

    def pipeline_call(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        return [self._answer(tuple(str(a) for a in command)) for command in commands]

    def _answer(self, command: tuple[str, ...]) -> Any:
        with self._lock:
            self.commands.append(command)
            name = command[0].upper()
            if name == "ROUTE.SET":
                replace = command[2].upper() == "REPLACE"
                if replace:
                    self.groups[command[1]] = {}
                group = self.groups.setdefault(command[1], {})
                ids = []
                for text in command[3 if replace else 2:]:
                    entry = json.loads(text)
                    group[entry["model_info"]["id"]] = entry
                    ids.append(entry["model_info"]["id"])
                return ids
            if name == "ROUTE.SETTINGS":
                self.settings = json.loads(command[2])
                return "OK"
            if name == "ROUTE.PICK":
                return self._pick(command)
            if name == "ROUTE.DONE":
                self.done.append(command)
                return 1 if self.open.pop(command[1], None) is not None else 0
            raise redis.exceptions.ResponseError(f"ERR unknown command '{command[0]}'")

    def _pick(self, command: tuple[str, ...]) -> list[Any]:
        group_name = command[1]
        if group_name not in self.groups:
            raise redis.exceptions.ResponseError(f"ERR no such group '{group_name}'")
        if self.refuse_with is not None:
            raise redis.exceptions.ResponseError(self.refuse_with)
        excluded = set(words_after(command, "EXCLUDE"))
        candidates = [entry for id, entry in self.groups[group_name].items() if id not in excluded]
        if not candidates:
            raise redis.exceptions.ResponseError("NODEPLOYMENT every deployment is excluded; no retry")
        weights = [float(entry["litellm_params"].get("weight", 1)) for entry in candidates]
        entry = random.choices(candidates, weights=weights)[0]
        self._next += 1
        lease = f"{{{group_name}}}:{self._next}"
        self.open[lease] = entry["model_info"]["id"]
        return ["deployment", entry["model_info"]["id"], "lease", lease, "group", group_name,
                "model", entry["litellm_params"]["model"], "api_base", None, "api_version", None,
                "region", None, "tokens", 0, "fallback", None]

    def picks(self) -> list[tuple[str, ...]]:
        return [c for c in self.commands if c[0] == "ROUTE.PICK"]


KEYWORDS = {"TOKENS", "CHAT", "STRATEGY", "TAGS", "EXCLUDE", "TTL", "WAIT", "PRIORITY"}


def words_after(command: tuple[str, ...], keyword: str) -> list[str]:
    if keyword not in command:
        return []
    start = command.index(keyword) + 1
    values = []
    for word in command[start:]:
        if word.upper() in KEYWORDS:
            break
        values.append(word)
    return values


def option(command: tuple[str, ...], keyword: str) -> str | None:
    values = words_after(command, keyword)
    return values[0] if values else None
