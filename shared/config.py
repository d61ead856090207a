"""The trigger configuration users write (`PIPELINE_TRIGGERS`), validated once, with every problem named.

Each entry mirrors Azure ML's `Schedule.create(...)` so a schedule can be ported field by field.
Invalid configuration raises `ConfigError` listing all problems; the functions surface it at
invocation instead of silently doing nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .endpoints import endpoint_problem
from .events import FIRING_APIS, NEVER_FIRING_APIS
from .ncrontab import CronSchedule, parse_cron
from .recurrence import Recurrence, parse_recurrence
from .settings import MissingSettingError, environment, expand_placeholders, get_setting, recording_reads
from .targets import DEFAULT_KIND, TARGET_KINDS
from .targets.spec import DataPath, PipelineTarget
from .validation import FieldReader, json_type

TRIGGERS_SETTING = "PIPELINE_TRIGGERS"
TRIGGERS_FILE_SETTING = "PIPELINE_TRIGGERS_FILE"
DEFAULT_CONNECTION = "AzureWebJobsStorage"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATUSES = ("Active", "Disabled")

TRIGGER_FIELDS = frozenset(
    {"name", "description", "status", "watch", "recurrence", "cron", "time_zone", "pipeline"}
)
WATCH_FIELDS = frozenset(
    {
        "container",
        "path_on_datastore",
        "polling_interval",
        "ignore_empty_blobs",
        "blob_path_ends_with",
        "connection",
        "backfill",
        "event_apis",
    }
)
COMMON_PIPELINE_FIELDS = frozenset(
    {
        "kind",
        "endpoint",
        "experiment_name",
        "parameter_assignments",
        "datastore_name",
        "data_path_parameter_name",
        "data_path_assignments",
        "continue_on_step_failure",
        "description",
        "tags",
        "scope",
        "client_id",
    }
)
APP_ID_SCOPE = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}/\.default$")
BLOB_FIELDS = ("datastore_name", "data_path_parameter_name")
CONTAINER_PATTERN = re.compile(r"^(\$root|[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9])$")


class ConfigError(ValueError):
    """The configuration cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid pipeline trigger configuration:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class WatchSpec:
    """A change-based trigger: blobs that land directly in `folder` of `container`."""

    container: str
    folder: str
    polling_interval: int
    ignore_empty_blobs: bool
    blob_path_ends_with: str | None
    connection: str
    backfill: bool
    event_apis: frozenset[str] | None = None  # None: every `data.api` that can fire does


Schedule = Recurrence | CronSchedule


@dataclass(frozen=True)
class Trigger:
    name: str
    status: str
    pipeline: PipelineTarget
    description: str | None = None
    watch: WatchSpec | None = None
    schedule: Schedule | None = None

    @property
    def active(self) -> bool:
        return self.status == "Active"


@dataclass(frozen=True)
class BridgeConfig:
    triggers: tuple[Trigger, ...]
    source: str

    def trigger(self, name: str) -> Trigger:
        for trigger in self.triggers:
            if trigger.name == name:
                return trigger
        known = ", ".join(t.name for t in self.triggers) or "none"
        raise KeyError(f"no trigger named {name!r} (configured: {known})")


def app_root() -> Path:
    """Where relative paths in settings point: the function app's root folder."""
    configured = get_setting("AzureWebJobsScriptRoot")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent


def read_raw_configuration() -> tuple[str, str]:
    """The configuration text and a label for messages, from the app setting or the file it names."""
    inline = get_setting(TRIGGERS_SETTING)
    file_name = get_setting(TRIGGERS_FILE_SETTING)
    if inline and file_name:
        raise ConfigError([f"set either {TRIGGERS_SETTING} or {TRIGGERS_FILE_SETTING}, not both"])
    if inline:
        return inline, f"app setting {TRIGGERS_SETTING}"
    if file_name:
        path = Path(file_name)
        if not path.is_absolute():
            path = app_root() / path
        try:  # utf-8-sig: Windows editors and PowerShell often save UTF-8 with a byte order mark
            return path.read_text(encoding="utf-8-sig"), f"file {path} ({TRIGGERS_FILE_SETTING})"
        except OSError as error:
            raise ConfigError([f"{TRIGGERS_FILE_SETTING}: cannot read {path}: {error.strerror}"]) from None
        except UnicodeDecodeError as error:
            raise ConfigError([f"{TRIGGERS_FILE_SETTING}: {path} is not UTF-8 text ({error.reason} at byte "
                               f"{error.start}); save it as UTF-8"]) from None
    raise ConfigError([f"no triggers configured: set the app setting {TRIGGERS_SETTING} (a JSON array) "
                       f"or {TRIGGERS_FILE_SETTING} (a JSON file)"])


@dataclass(frozen=True)
class _Parsed:
    source: str
    text: str
    reads: Mapping[str, str | None]  # the settings parsing looked up (`%NAME%`, AZURE_CLIENT_ID), and their values
    config: BridgeConfig

    def still_valid(self, source: str, text: str) -> bool:
        return (source, text) == (self.source, self.text) and all(
            environment().get(name) == value for name, value in self.reads.items())


_cache: dict[str, _Parsed] = {}


def load_config() -> BridgeConfig:
    """The current configuration, parsed once per distinct text and values of the settings it reads (settings
    can change between invocations and tests). The cache keeps only those settings, never the whole environment
    with its keys and secrets."""
    text, source = read_raw_configuration()
    cached = _cache.get("last")
    if cached is None or not cached.still_valid(source, text):
        with recording_reads() as reads:
            config = parse_config(text, source)
        cached = _cache["last"] = _Parsed(source, text, dict(reads), config)
    return cached.config


def parse_config(text: str, source: str = TRIGGERS_SETTING) -> BridgeConfig:
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ConfigError([f"{source} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"]) \
            from None
    except (ValueError, RecursionError) as error:  # e.g. an integer over 4,300 digits, or absurd nesting
        raise ConfigError([f"{source} is not usable JSON: {error}"]) from None
    if not isinstance(raw, list):
        raise ConfigError([f"{source} must be a JSON array of triggers (got {json_type(raw)})"])
    if not raw:
        raise ConfigError([f"{source} holds no triggers"])
    problems: list[str] = []
    triggers: list[Trigger] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        label = _trigger_label(entry, index)
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            if entry["name"] in seen:
                problems.append(f"{label}: name is used by more than one trigger")
            seen.add(entry["name"])
        try:
            trigger = parse_trigger(entry, label, problems)
        except RecursionError:
            problems.append(f"{label}: is nested too deeply to check")
            trigger = None
        if trigger is not None:
            triggers.append(trigger)
    if problems:
        raise ConfigError(problems)
    return BridgeConfig(triggers=tuple(triggers), source=source)


def _reject_constant(name: str) -> None:
    """JSON has no NaN or Infinity; Python's parser accepts them, and they would be sent as "nan"."""
    raise ValueError(f"{name} is not a JSON number")


def _trigger_label(entry: object, index: int) -> str:
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str) and entry["name"]:
        return f"trigger {entry['name']!r}"
    return f"trigger #{index + 1}"


def expand_settings(value: Any, path: str, label: str, problems: list[str]) -> Any:
    """Apply `%NAME%` to every string in the entry, naming the field when a setting is missing."""
    if isinstance(value, str):
        try:
            return expand_placeholders(value)
        except MissingSettingError as error:
            problems.append(f"{label}: {path} refers to app setting {error.name!r}, which is not defined")
            return value
    if isinstance(value, Mapping):
        return {k: expand_settings(v, f"{path}.{k}" if path else str(k), label, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_settings(v, f"{path}[{i}]", label, problems) for i, v in enumerate(value)]
    return value


def parse_trigger(entry: object, label: str, problems: list[str]) -> Trigger | None:
    if not isinstance(entry, Mapping):
        problems.append(f"{label}: must be a JSON object (got {json_type(entry)})")
        return None
    before = len(problems)
    entry = expand_settings(entry, "", label, problems)
    reader = FieldReader(entry, "", problems, label)
    reader.unknown_fields(TRIGGER_FIELDS)
    name = reader.string("name", required=True)
    if name is not None and not NAME_PATTERN.match(name):
        reader.problem("name", "must be 1-64 letters, digits, '-' or '_'")
    status = reader.string("status", default="Active")
    if status not in STATUSES:
        reader.problem("status", f"must be Active or Disabled (got {status!r})")
    description = reader.string("description")

    sources = [key for key in ("watch", "recurrence", "cron") if entry.get(key) is not None]
    if len(sources) != 1:
        found = ", ".join(sources) if sources else "none"
        problems.append(f"{label}: needs exactly one of watch, recurrence or cron (found: {found})")
    watch = parse_watch(reader) if "watch" in sources else None
    schedule = parse_schedule(entry, reader) if sources and sources[0] != "watch" else None
    if entry.get("time_zone") is not None and "cron" not in sources:
        reader.problem("time_zone", "is only used with cron (a recurrence has recurrence.time_zone)")
    pipeline = parse_pipeline(reader, is_watch=watch is not None)
    if len(problems) > before or name is None or pipeline is None:
        return None
    return Trigger(name=name, status=status or "Active", description=description, watch=watch,
                   schedule=schedule, pipeline=pipeline)


def parse_watch(trigger: FieldReader) -> WatchSpec | None:
    reader = trigger.nested("watch")
    if reader is None:
        return None
    reader.unknown_fields(WATCH_FIELDS)
    container = reader.string("container", required=True)
    if container is not None and not CONTAINER_PATTERN.match(container):
        reader.problem("container", f"{container!r} is not a valid container name (3-63 lower-case letters, "
                                    "digits and single hyphens)")
    folder = reader.string("path_on_datastore", default="") or ""
    return WatchSpec(
        container=container or "",
        folder=folder.strip("/"),
        polling_interval=reader.integer("polling_interval", default=5, minimum=0, maximum=1440),
        ignore_empty_blobs=bool(reader.boolean("ignore_empty_blobs", default=True)),
        blob_path_ends_with=reader.string("blob_path_ends_with") or None,
        connection=reader.string("connection", default=DEFAULT_CONNECTION) or DEFAULT_CONNECTION,
        backfill=bool(reader.boolean("backfill", default=False)),
        event_apis=parse_event_apis(reader),
    )


def parse_event_apis(watch: FieldReader) -> frozenset[str] | None:
    """The optional allow-list of `data.api` values. A listing cannot tell how a blob was written, so the
    polling sweep would submit what the list refuses: the two do not go together."""
    value = watch.data.get("event_apis")
    if value is None:
        return None
    known = ", ".join(FIRING_APIS)
    if not isinstance(value, list) or not value:
        watch.problem("event_apis", f"must be a non-empty array of data.api names (any of: {known}); got {value!r}")
        return None
    allowed: set[str] = set()
    for item in value:
        if item in NEVER_FIRING_APIS:
            watch.problem("event_apis", f"lists {item!r}, which never fires: its content arrives with a later "
                                        "event (FlushWithClose after CreateFile, SftpCommit after SftpCreate)")
        elif item not in FIRING_APIS:
            watch.problem("event_apis", f"lists {item!r}, which is not a data.api that can fire (use any of: {known})")
        else:
            allowed.add(item)
    if watch.data.get("polling_interval", 5) != 0:
        watch.problem("event_apis", "needs polling_interval 0: the polling sweep cannot tell which API wrote a "
                                    "blob, so it would submit the blobs this list refuses")
    return frozenset(allowed)


def parse_schedule(entry: Mapping[str, Any], trigger: FieldReader) -> Schedule | None:
    if entry.get("recurrence") is not None:
        schedule, messages = parse_recurrence(entry["recurrence"])
    else:
        schedule, messages = parse_cron(entry["cron"], entry.get("time_zone", "UTC"))
    trigger.problems.extend(f"{trigger.owner}: {message}" for message in messages)
    return schedule


def parse_pipeline(trigger: FieldReader, *, is_watch: bool) -> PipelineTarget | None:
    reader = trigger.nested("pipeline")
    if reader is None:
        if trigger.data.get("pipeline") is None:  # absent or null (anything else is reported as not an object)
            trigger.problem("pipeline", "is required")
        return None
    kind_name = reader.string("kind", default=DEFAULT_KIND) or DEFAULT_KIND
    kind = TARGET_KINDS.get(kind_name)
    if kind is None:
        reader.problem("kind", f"{kind_name!r} is not a known kind (use one of: {', '.join(TARGET_KINDS)})")
        return None
    reader.unknown_fields(COMMON_PIPELINE_FIELDS | kind.option_fields, f" for kind {kind_name}")
    endpoint = reader.string("endpoint", required=True)
    if endpoint is not None and (problem := endpoint_problem(endpoint)):
        reader.problem("endpoint", problem)
    scope = reader.string("scope", default=kind.default_scope) or kind.default_scope
    if problem := scope_problem(scope):
        reader.problem("scope", problem)
    options = kind.check(reader, is_watch)
    if not is_watch:
        refuse_blob_fields(reader)
    return PipelineTarget(
        kind=kind_name,
        endpoint=endpoint or "",
        scope=scope,
        experiment_name=reader.string("experiment_name"),
        parameter_assignments=reader.string_map("parameter_assignments"),
        datastore_name=reader.string("datastore_name"),
        data_path_parameter_name=reader.string("data_path_parameter_name"),
        data_path_assignments=parse_data_paths(reader),
        continue_on_step_failure=reader.boolean("continue_on_step_failure", default=None),
        description=reader.string("description"),
        tags=reader.string_map("tags"),
        client_id=reader.string("client_id") or get_setting("AZURE_CLIENT_ID"),
        options=options,
    )


def scope_problem(scope: str) -> str | None:
    """A scope is a resource URL's `/.default` (https, as for endpoints) or an application id's
    (`2ff814a6-.../.default`, Azure Databricks: docs/services.md)."""
    if APP_ID_SCOPE.match(scope):
        return None
    problem = endpoint_problem(scope)
    return problem.replace("endpoint", "scope") if problem else None


def refuse_blob_fields(reader: FieldReader) -> None:
    """A schedule has no changed blob to pass on; Azure ML's `Schedule.create` refuses these fields with a
    recurrence ("Data Path parameter name can only be specified for Datastore schedules"), and so does the bridge
    rather than ignore them. A kind that never takes the field has said so already."""
    for key in BLOB_FIELDS:
        field = reader.field(key)
        if reader.data.get(key) is not None and not any(f": {field} " in problem for problem in reader.problems):
            reader.problem(key, "can only be given with a watch trigger: it names where the changed blob goes, and a "
                                "recurrence or cron trigger has none (for a fixed DataPath input use "
                                "data_path_assignments)")


def parse_data_paths(pipeline: FieldReader) -> dict[str, DataPath]:
    """Fixed DataPath parameters, e.g. for a recurrence that always reads one folder."""
    reader = pipeline.nested("data_path_assignments")
    result: dict[str, DataPath] = {}
    for name in reader.data if reader else ():
        item = reader.nested(name) if reader else None
        if item is None:
            continue
        item.unknown_fields({"datastore_name", "relative_path"})
        datastore = item.string("datastore_name", required=True)
        relative = item.string("relative_path", required=True)
        if datastore and relative:
            result[str(name)] = DataPath(datastore, relative)
    return result

