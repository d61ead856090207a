"""Reading untrusted JSON configuration while collecting every problem at once.

Users fix configuration in a deploy loop; reporting all problems in one pass (each naming its trigger
and field) saves them a deploy per mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def json_type(value: object) -> str:
    """The JSON name of a value's type, for messages users can match against what they wrote."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


class FieldReader:
    """Typed reads from one JSON object; a wrong value becomes a problem, never an exception."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: list[str], owner: str) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self.owner = owner

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.owner}: {self.field(key)} {message}")

    def unknown_fields(self, allowed: set[str] | frozenset[str], hint: str = "") -> None:
        for key in self.data:
            if key not in allowed:
                self.problem(str(key), f"is not a recognised field{hint}")

    def string(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return default
        if not isinstance(value, str):
            self.problem(key, f"must be a string (got {json_type(value)})")
            return default
        if required and not value.strip():
            self.problem(key, "must not be empty")
            return default
        return value

    def boolean(self, key: str, default: bool | None) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false (got {value!r})")
            return default
        return value

    def integer(self, key: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"must be a whole number (got {value!r})")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
            self.problem(key, f"must be {bound} (got {value})")
            return default
        return value

    def obj(self, key: str) -> Mapping[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.problem(key, f"must be a JSON object (got {json_type(value)})")
            return None
        return value

    def string_map(self, key: str) -> dict[str, str]:
        """An object of scalars, sent as strings the way the Azure ML SDK sends them (str() of each)."""
        value = self.obj(key)
        result: dict[str, str] = {}
        for name, item in (value or {}).items():
            if isinstance(item, bool | int | float | str):
                result[str(name)] = str(item)
            else:
                self.problem(f"{key}.{name}", f"must be a string, number or boolean (got {json_type(item)})")
        return result

    def nested(self, key: str) -> FieldReader | None:
        value = self.obj(key)
        return None if value is None else FieldReader(value, self.field(key), self.problems, self.owner)
