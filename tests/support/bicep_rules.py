"""Rules the Bicep compiler enforces (and one ARM enforces on redeploys), checked on pycep's parse trees.

No Bicep compiler is reachable offline, and pycep only parses. So the rules that made deployments fail
are restated here and run on every template:

* a property that must be known when a deployment starts (a resource's `name`, `location`, `scope`,
  `parent`; a module's `name` and `scope`; an `if` condition; a `for` loop's array) may not read a runtime
  value: any property of a resource other than `id`, `name`, `type` and `apiVersion` (an `existing`
  resource's `location` included: compiler error BCP120), a module's outputs, or `reference()`/`list*()`,
  also not through variables;
* a role assignment takes its principal from a parameter of its own template, and its `name` is derived
  from that parameter: a new principal then gets a new assignment instead of ARM refusing to repoint the
  old one (`RoleAssignmentUpdateNotPermitted`).

pycep writes an identifier and a string literal alike (`name: p` and `name: 'p'` are both `"p"`), so a
string counts as a reference when it is the name of a declared symbol.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# What Bicep can compute for a resource when a deployment starts (BCP120's list).
DEPLOY_TIME_RESOURCE_PROPERTIES = frozenset({"id", "name", "type", "apiVersion"})
ROLE_ASSIGNMENT = "microsoft.authorization/roleassignments"
_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\s*\.\??\s*[A-Za-z_]\w*)*")


def body(declaration: dict) -> dict:
    """The object of a resource or module, looking through `if (...)` conditions and `for` loops."""
    config = declaration["config"]
    while isinstance(config, dict) and ("loop_type" in config or "condition" in config):
        config = config["config"]
    return config


def _wrappers(declaration: dict) -> Iterator[tuple[str, object]]:
    """The condition and loop array of a declaration, which must be known at the start as well."""
    config = declaration["config"]
    while isinstance(config, dict) and ("loop_type" in config or "condition" in config):
        if config.get("condition") is not None:
            yield "condition", config["condition"]
        if "loop_type" in config:
            yield "for", config["loop_type"]["detail"]["array_name"]
        config = config["config"]


def _chain(expr: object) -> tuple[object, tuple[str, ...], list[object]]:
    """The base and property names of `a.b.c` (pycep nests `.c` inside `.b`), and any other expressions
    caught in the chain (pycep puts `a.?b ?? fallback` there)."""
    path: list[str] = []
    extras: list[object] = []
    while isinstance(expr, dict) and expr.get("operator", {}).get("type") == "property_accessor":
        operands = expr["operator"]["operands"]
        base, rest = operands["operand_1"], operands["operand_2"]
        inner_base, inner_path, inner_extras = _chain(rest) if isinstance(rest, dict) else (rest, (), [])
        extras += inner_extras
        if isinstance(inner_base, str):
            path = [inner_base, *inner_path, *path]
        else:
            extras.append(inner_base)
        expr = base
    return expr, tuple(path), extras


def references(expr: object) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every (identifier, property path) an expression reads, and `reference`/`list*` calls as ('()', (name,))."""
    if isinstance(expr, str):
        if _INTERPOLATION.search(expr):
            for inner in _INTERPOLATION.findall(expr):
                for dotted in _DOTTED.findall(inner):
                    first, *rest = [part.strip(" ?") for part in dotted.split(".")]
                    yield first, tuple(rest)
        else:
            yield expr, ()
        return
    if isinstance(expr, list):
        for item in expr:
            yield from references(item)
        return
    if not isinstance(expr, dict):
        return
    operator = expr.get("operator")
    if isinstance(operator, dict) and operator.get("type") == "property_accessor":
        base, path, extras = _chain(expr)
        yield from references(extras)
        if isinstance(base, str):
            yield base, path
        elif isinstance(base, dict) and base.get("operator", {}).get("type") == "index_accessor":
            indexed = base["operator"]["operands"]
            if isinstance(indexed["operand_1"], str):
                yield indexed["operand_1"], path
            else:
                yield from references(indexed["operand_1"])
            yield from references(indexed["operand_2"])
        else:
            yield from references(base)
        return
    function = expr.get("function")
    if isinstance(function, dict):
        name = str(function.get("type", ""))
        if name == "reference" or name.startswith("list"):
            yield "()", (name,)
        yield from references(function.get("parameters", {}))
        return
    for value in expr.values():
        yield from references(value)


def render(expr: object) -> str:
    """`a.b.c` for a property chain, the text of a string, else a short description."""
    if isinstance(expr, str):
        return expr
    base, path, _ = _chain(expr)
    if path and isinstance(base, str):
        return ".".join((base, *path))
    return "an expression"


class Template:
    """The symbols of one parsed template, and the runtime values its expressions read."""

    def __init__(self, parsed: dict) -> None:
        self.parsed = parsed
        self.parameters = set(parsed.get("parameters", {}))
        self.variables = {name: v.get("value") for name, v in parsed.get("variables", {}).items()}
        self.resources = parsed.get("resources", {})
        self.modules = parsed.get("modules", {})

    def runtime_reads(self, expr: object, seen: frozenset[str] = frozenset()) -> list[str]:
        """What in `expr` is only known once the deployment runs, e.g. `account.location`."""
        found = []
        for symbol, path in references(expr):
            if symbol == "()":
                found.append(f"{path[0]}()")
            elif symbol in self.variables and symbol not in self.parameters and symbol not in seen:
                inner = self.runtime_reads(self.variables[symbol], seen | {symbol})
                found += [f"{read} (via variable {symbol})" for read in inner]
            elif (symbol in self.resources and path and path[0] not in DEPLOY_TIME_RESOURCE_PROPERTIES) or (
                symbol in self.modules and path[:1] == ("outputs",)
            ):
                found.append(".".join((symbol, *path)))
        return found

    def deploy_time_violations(self) -> list[str]:
        """Deploy-time-constant properties that read a runtime value (Bicep BCP120/BCP177/BCP178)."""
        problems = []
        declarations = [("resource", n, d) for n, d in self.resources.items()]
        declarations += [("module", n, d) for n, d in self.modules.items()]
        for kind, name, declaration in declarations:
            config = body(declaration)
            keys = ["name", "scope"] + (["location", "parent"] if kind == "resource" else [])
            checked = [(key, config.get(key)) for key in keys if key in config]
            checked += list(_wrappers(declaration))
            for key, expr in checked:
                for read in self.runtime_reads(expr):
                    problems.append(f"{kind} {name}: {key} reads {read}, which is not known when the deployment starts")
        return problems

    def role_assignment_violations(self) -> list[str]:
        """Role assignments whose principal is not a parameter, or whose name does not derive from it."""
        problems = []
        for name, declaration in self.resources.items():
            if declaration["type"].lower() != ROLE_ASSIGNMENT or declaration.get("existing"):
                continue
            config = body(declaration)
            principal = config.get("properties", {}).get("principalId")
            if not (isinstance(principal, str) and principal in self.parameters):
                problems.append(f"{name}: principalId must be a parameter of this template (assign through a module "
                                f"that receives the principal id), not {render(principal)}")
                continue
            function = config.get("name", {}).get("function", {}) if isinstance(config.get("name"), dict) else {}
            arguments = function.get("parameters", {}).values() if function.get("type") == "guid" else ()
            if principal not in arguments:
                problems.append(
                    f"{name}: name must be guid(..., {principal}, ...), so that it changes with the principal"
                )
        return problems
