"""Sweep files (TOML) -> a validated :class:`SweepSpec` -> the list of :class:`Unit` to run.

A sweep file::

    name = "tiny"                       # required
    out = "runs/sweep_tiny"             # default output folder (``--out`` overrides)
    seeds = [0, 1]                      # or {start = 0, stop = 4}; every unit runs all seeds
    unit = "sims.sweep.engine:run_unit" # optional: the callable that runs one unit
    student_sections = ["student", "distill"]  # optional: axes under these stay inside a unit

    [base]                              # the base configuration (nested tables)
    task = {n = 12, k = 2}

    [axes]                              # the Cartesian product of these
    "teacher.width" = [64, 128]         # a list
    "task.n" = {start = 10, stop = 20, step = 5}   # a range (stop excluded, like Python)
    "distill.temperature" = {start = 0.5, stop = 2.0, num = 4}  # linspace (both ends included)

    [[zip]]                             # axes varied together (same lengths), crossed with the rest
    "task.n" = [12, 16]
    "task.k" = [2, 3]

    [executor]                          # kind = "local" (default) or "slurm"
    kind = "local"
    max_parallel = 2
    partition = "debug"; time_min = 30; cpus = 1; gpus = 0; mem_gb = 4; retries = 0; units_per_job = 1

Unit of work = one teacher configuration with all its student configurations and all seeds: grid
points that differ only in axes under ``student_sections`` share one unit, so the teacher is
trained once per seed and shared by every student strategy.
"""
from __future__ import annotations

import copy
import hashlib
import importlib
import itertools
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the same parser, as a package
    import tomli as tomllib

__all__ = [
    "ExecutorSpec",
    "SweepSpec",
    "Unit",
    "SweepSpecError",
    "load_spec",
    "parse_spec",
    "plan_units",
    "stable_hash",
    "resolve_callable",
    "grid_size",
    "MAX_AXIS_VALUES",
    "MAX_GRID_POINTS",
]

#: an axis with more values than this is refused when the file is read (before any list is built)
MAX_AXIS_VALUES = 1_000_000
#: above this many grid points, ``plan`` and ``run`` refuse unless told ``--allow-large``
MAX_GRID_POINTS = 10_000

DEFAULT_UNIT = "sims.sweep.engine:run_unit"
_TOP_KEYS = {"name", "out", "seeds", "unit", "student_sections", "base", "axes", "zip", "executor", "description"}
_EXECUTOR_KEYS = {"kind", "max_parallel", "partition", "time_min", "cpus", "gpus", "mem_gb", "retries", "units_per_job", "extra"}


class SweepSpecError(ValueError):
    """A sweep file that cannot be run; the message names the file, the key and what was wrong."""


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys), first ``length`` hex digits."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def resolve_callable(path: str) -> Callable:
    """'package.module:function' -> the function (imported lazily)."""
    if not isinstance(path, str) or path.count(":") != 1:
        raise SweepSpecError(f"unit must be a string 'module:function'; got {path!r}.")
    mod, func = path.split(":")
    try:
        return getattr(importlib.import_module(mod), func)
    except (ImportError, AttributeError) as exc:
        raise SweepSpecError(f"unit {path!r} cannot be imported: {exc}") from exc


@dataclass(frozen=True)
class ExecutorSpec:
    """Where units run. ``kind`` is 'local' (process pool on this machine) or 'slurm' (submitit)."""

    kind: str = "local"
    max_parallel: int = 2
    partition: str | None = None
    time_min: int = 60
    cpus: int = 1
    gpus: int = 0
    mem_gb: float | None = None
    retries: int = 0
    units_per_job: int = 1  # slurm: units run one after another in each array task (fewer, longer jobs)
    extra: dict = field(default_factory=dict)  # extra sbatch parameters (submitit slurm_additional_parameters)

    def __post_init__(self) -> None:
        if self.kind not in ("local", "slurm"):
            raise SweepSpecError(f"executor.kind must be 'local' or 'slurm'; got {self.kind!r}.")
        for name in ("max_parallel", "time_min", "cpus", "units_per_job"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SweepSpecError(f"executor.{name} must be an int >= 1; got {v!r}.")
        for name in ("gpus", "retries"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise SweepSpecError(f"executor.{name} must be an int >= 0; got {v!r}.")
        if self.partition is not None and not isinstance(self.partition, str):
            raise SweepSpecError(f"executor.partition must be a string; got {self.partition!r}.")
        if self.mem_gb is not None and (isinstance(self.mem_gb, bool) or not isinstance(self.mem_gb, (int, float)) or self.mem_gb <= 0):
            raise SweepSpecError(f"executor.mem_gb must be a positive number; got {self.mem_gb!r}.")
        if not isinstance(self.extra, dict):
            raise SweepSpecError(f"executor.extra must be a table of sbatch options; got {self.extra!r}.")


@dataclass(frozen=True)
class Unit:
    """One unit of work: a teacher config, the student configs sharing it, and the seeds.

    ``points`` holds, for each student configuration, the full config dict and its axis values
    (``{"config": {...}, "axes": {"teacher.width": 64, ...}, "point_id": "..."}``).
    """

    unit_id: str
    teacher_config: dict
    points: tuple
    seeds: tuple
    unit: str
    axes: dict  # axis values shared by the whole unit (outer axes)

    def to_json(self) -> dict:
        return {
            "unit_id": self.unit_id,
            "teacher_config": self.teacher_config,
            "points": list(self.points),
            "seeds": list(self.seeds),
            "unit": self.unit,
            "axes": self.axes,
        }

    @classmethod
    def from_json(cls, d: dict) -> "Unit":
        return cls(d["unit_id"], d["teacher_config"], tuple(d["points"]), tuple(d["seeds"]), d["unit"], d["axes"])


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated sweep file (see the module docstring for the format)."""

    name: str
    base: dict
    axes: tuple  # tuple of groups; each group is a tuple of (name, values) zipped together
    seeds: tuple
    unit: str = DEFAULT_UNIT
    student_sections: tuple = ("student", "distill")
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    out: str | None = None
    source: str | None = None  # path of the sweep file

    @property
    def axis_names(self) -> list[str]:
        return [name for group in self.axes for name, _ in group]

    def identity(self) -> dict:
        """What makes two sweep files 'the same sweep' (the executor and output folder do not)."""
        return {
            "name": self.name,
            "base": self.base,
            "axes": [[[n, list(v)] for n, v in g] for g in self.axes],
            "seeds": list(self.seeds),
            "unit": self.unit,
            "student_sections": list(self.student_sections),
        }

    @property
    def spec_hash(self) -> str:
        return stable_hash(self.identity())

    def with_executor(self, **changes: Any) -> "SweepSpec":
        params = {k: getattr(self.executor, k) for k in _EXECUTOR_KEYS}
        params.update(changes)
        return SweepSpec(self.name, self.base, self.axes, self.seeds, self.unit, self.student_sections,
                         ExecutorSpec(**params), self.out, self.source)


# ----------------------------------------------------------------------------------------------
def _where(source: str | None) -> str:
    return f"sweep file {source}" if source else "sweep spec"


def _range_count(start, stop, step) -> int:
    """Number of values of the range {start, stop, step} (stop excluded), without building it."""
    if all(isinstance(v, int) for v in (start, stop, step)):
        return len(range(start, stop, step))  # exact for any int size
    q = (stop - start) / step
    if not math.isfinite(q):
        return math.inf
    return max(0, math.ceil(q - 1e-12))


def _expand_values(name: str, raw: Any, where: str) -> list:
    """An axis value list: a non-empty list, {start, stop, step} (stop excluded) or {start, stop, num}.

    Ranges are counted before they are built: more than MAX_AXIS_VALUES values (e.g. step = 1e-300)
    is an error naming the count, not a MemoryError or a hang."""
    if isinstance(raw, list):
        values = raw
    elif isinstance(raw, dict):
        keys = set(raw)
        if keys == {"start", "stop", "step"} or keys == {"start", "stop"}:
            start, stop, step = raw["start"], raw["stop"], raw.get("step", 1)
            for key, v in (("start", start), ("stop", stop), ("step", step)):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise SweepSpecError(f"{where}: axis {name!r}: range {key} must be a finite number; got {v!r}.")
            if step == 0:
                raise SweepSpecError(f"{where}: axis {name!r}: range step must be non-zero; got 0.")
            count = _range_count(start, stop, step)
            if count > MAX_AXIS_VALUES:
                shown = "more than 1e308" if math.isinf(count) else f"{count:,}" if count < 10**15 else f"{count:.3e}"
                raise SweepSpecError(
                    f"{where}: axis {name!r}: range {{start = {start!r}, stop = {stop!r}, step = {step!r}}} has "
                    f"{shown} values; an axis may have at most {MAX_AXIS_VALUES:,}."
                )
            if abs(step) < 1e-12 and count > 1:  # values are rounded to 12 decimals below: they would coincide
                raise SweepSpecError(f"{where}: axis {name!r}: range step must be at least 1e-12 in size "
                                     f"(axis values are rounded to 12 decimals); got step = {step!r}.")
            values = [start + i * step for i in range(count)]
            if all(isinstance(v, int) for v in (start, stop, step)):
                values = [int(v) for v in values]
            else:
                values = [round(float(v), 12) for v in values]
        elif keys == {"start", "stop", "num"}:
            start, stop, num = raw["start"], raw["stop"], raw["num"]
            if not isinstance(num, int) or isinstance(num, bool) or num < 1:
                raise SweepSpecError(f"{where}: axis {name!r}: num must be an int >= 1; got {num!r}.")
            if num > MAX_AXIS_VALUES:
                raise SweepSpecError(f"{where}: axis {name!r}: num = {num:,}; an axis may have at most {MAX_AXIS_VALUES:,} values.")
            for key, v in (("start", start), ("stop", stop)):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise SweepSpecError(f"{where}: axis {name!r}: {key} must be a finite number; got {v!r}.")
            values = [float(start)] if num == 1 else [round(start + (stop - start) * i / (num - 1), 12) for i in range(num)]
        else:
            raise SweepSpecError(
                f"{where}: axis {name!r} must be a list, {{start, stop, step}} or {{start, stop, num}}; got keys {sorted(keys)}."
            )
    else:
        raise SweepSpecError(f"{where}: axis {name!r} must be a list or a range table; got {type(raw).__name__} {raw!r}.")
    if len(values) == 0:
        raise SweepSpecError(f"{where}: axis {name!r} is empty; give at least one value.")
    types = {type(v) for v in values}
    if types == {int, float}:
        values = [float(v) for v in values]
    elif len(types) > 1:
        raise SweepSpecError(f"{where}: axis {name!r} mixes value types {sorted(t.__name__ for t in types)}; use one type.")
    if isinstance(raw, list) and len(values) > MAX_AXIS_VALUES:
        raise SweepSpecError(f"{where}: axis {name!r} lists {len(values):,} values; an axis may have at most {MAX_AXIS_VALUES:,}.")
    try:
        distinct = len({(type(v), v) for v in values})
    except TypeError:  # tables or lists as values
        distinct = len({json.dumps(v, sort_keys=True) for v in values})
    if distinct != len(values):
        shown = values if len(values) <= 20 else f"{values[:20]!r}... ({len(values)} values)"
        raise SweepSpecError(f"{where}: axis {name!r} repeats a value: {shown}.")
    return values


def _get_path(d: dict, dotted: str) -> Any:
    cur: Any = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise KeyError(dotted)
        cur = cur[part]
    return cur


def _set_path(d: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = d
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})  # the key may exist only in the unit's defaults
    cur[parts[-1]] = value


def _known_keys(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        path = f"{prefix}{k}"
        out.append(path)
        if isinstance(v, dict):
            out += _known_keys(v, path + ".")
    return out


def _check_axis_type(name: str, values: list, base_value: Any, where: str) -> None:
    """A swept value must have the type of the base value (int may stand for float)."""
    if base_value is None:
        return
    for v in values:
        ok = type(v) is type(base_value) or (isinstance(base_value, float) and type(v) is int)
        if isinstance(base_value, dict) or not ok:
            raise SweepSpecError(
                f"{where}: axis {name!r} has value {v!r} of type {type(v).__name__}, "
                f"but [base] {name} is {base_value!r} of type {type(base_value).__name__}."
            )


def parse_spec(data: dict, source: str | None = None, defaults: dict | None = None) -> SweepSpec:
    """Validate a decoded sweep file. ``defaults``: config keys the unit accepts beyond [base]."""
    where = _where(source)
    if not isinstance(data, dict):
        raise SweepSpecError(f"{where}: expected a TOML table at the top; got {type(data).__name__}.")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise SweepSpecError(f"{where}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}.")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SweepSpecError(f"{where}: 'name' must be a non-empty string; got {name!r}.")
    out = data.get("out")
    if out is not None and not isinstance(out, str):
        raise SweepSpecError(f"{where}: 'out' must be a string (a folder); got {out!r}.")
    unit = data.get("unit", DEFAULT_UNIT)
    if not isinstance(unit, str) or unit.count(":") != 1:
        raise SweepSpecError(f"{where}: 'unit' must be a string 'module:function'; got {unit!r}.")
    sections = data.get("student_sections", ["student", "distill"])
    if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
        raise SweepSpecError(f"{where}: 'student_sections' must be a list of strings; got {sections!r}.")
    base = data.get("base", {})
    if not isinstance(base, dict):
        raise SweepSpecError(f"{where}: [base] must be a table; got {type(base).__name__}.")
    base = copy.deepcopy(base)
    # seeds
    seeds_raw = data.get("seeds", [0])
    seeds = _expand_values("seeds", seeds_raw, where) if isinstance(seeds_raw, (list, dict)) else None
    if seeds is None or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise SweepSpecError(f"{where}: 'seeds' must be a non-empty list (or range) of ints >= 0; got {seeds_raw!r}.")
    # axes
    axes_raw = data.get("axes", {})
    if not isinstance(axes_raw, dict):
        raise SweepSpecError(f"{where}: [axes] must be a table of axis name -> values; got {type(axes_raw).__name__}.")
    zips_raw = data.get("zip", [])
    if isinstance(zips_raw, dict):
        zips_raw = [zips_raw]
    if not isinstance(zips_raw, list) or not all(isinstance(z, dict) for z in zips_raw):
        raise SweepSpecError(f"{where}: [[zip]] must be an array of tables; got {zips_raw!r}.")
    merged = copy.deepcopy(defaults or {})
    _deep_update(merged, base)
    known = _known_keys(merged)
    groups: list[tuple] = []
    seen: set[str] = set()

    def check_name(axis: str) -> Any:
        if axis in seen:
            raise SweepSpecError(f"{where}: axis {axis!r} appears twice (in [axes] and/or [[zip]]).")
        seen.add(axis)
        try:
            value = _get_path(merged, axis)
        except KeyError:
            import difflib

            leaves = [k for k in known if not isinstance(_get_path(merged, k), dict)]
            close = difflib.get_close_matches(axis, leaves, n=3, cutoff=0.6)
            close += [k for k in leaves if k.split(".")[-1] == axis.split(".")[-1] and k not in close]
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            listing = ", ".join(leaves) if len(leaves) <= 30 else ", ".join(leaves[:30]) + f", ... ({len(leaves)} keys)"
            raise SweepSpecError(
                f"{where}: unknown axis {axis!r}: it is not a key of [base] or of the unit's defaults "
                f"(dotted path).{hint} Known keys: {listing or '(none: [base] is empty)'}."
            ) from None
        return value

    def flatten_axes(table: dict, prefix: str = "") -> list[tuple[str, Any]]:
        # TOML `[axes.teacher] width = [...]` and `"teacher.width" = [...]` mean the same.
        items = []
        for k, v in table.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict) and not (set(v) <= {"start", "stop", "step", "num"} and v):
                items += flatten_axes(v, key + ".")
            else:
                items.append((key, v))
        return items

    for axis, raw in flatten_axes(axes_raw):
        base_value = check_name(axis)
        values = _expand_values(axis, raw, where)
        _check_axis_type(axis, values, base_value, where)
        groups.append(((axis, tuple(values)),))
    for i, z in enumerate(zips_raw):
        items = flatten_axes(z)
        if not items:
            raise SweepSpecError(f"{where}: [[zip]] table #{i + 1} is empty.")
        group = []
        for axis, raw in items:
            base_value = check_name(axis)
            values = _expand_values(axis, raw, where)
            _check_axis_type(axis, values, base_value, where)
            group.append((axis, tuple(values)))
        lengths = {len(v) for _, v in group}
        if len(lengths) != 1:
            raise SweepSpecError(
                f"{where}: zipped axes must have equal lengths; got {', '.join(f'{n}: {len(v)}' for n, v in group)}."
            )
        groups.append(tuple(group))
    # executor
    ex_raw = data.get("executor", {})
    if not isinstance(ex_raw, dict):
        raise SweepSpecError(f"{where}: [executor] must be a table; got {type(ex_raw).__name__}.")
    bad = set(ex_raw) - _EXECUTOR_KEYS
    if bad:
        raise SweepSpecError(f"{where}: unknown [executor] key(s) {sorted(bad)}; allowed: {sorted(_EXECUTOR_KEYS)}.")
    try:
        executor = ExecutorSpec(**ex_raw)
    except SweepSpecError as exc:
        raise SweepSpecError(f"{where}: {exc}") from None
    return SweepSpec(
        name=name.strip(), base=base, axes=tuple(groups), seeds=tuple(seeds), unit=unit,
        student_sections=tuple(sections), executor=executor, out=out, source=source,
    )


def _deep_update(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_update(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


def load_spec(path: str | Path, defaults: dict | None = None) -> SweepSpec:
    """Read and validate a sweep file; every problem is a :class:`SweepSpecError` (a ValueError)."""
    p = Path(path)
    if not p.is_file():
        raise SweepSpecError(f"sweep file {str(p)!r} does not exist or is not a file.")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SweepSpecError(f"sweep file {p}: invalid TOML: {exc}") from None
    if defaults is None:
        defaults = _unit_defaults(data.get("unit", DEFAULT_UNIT) if isinstance(data, dict) else DEFAULT_UNIT)
    return parse_spec(data, source=str(p), defaults=defaults)


def _unit_defaults(unit: Any) -> dict:
    """The unit module may offer ``default_config() -> dict`` of keys valid beyond [base]."""
    if not isinstance(unit, str) or unit.count(":") != 1:
        return {}
    try:
        mod = importlib.import_module(unit.split(":")[0])
    except ImportError:
        return {}
    fn = getattr(mod, "default_config", None)
    return fn() if callable(fn) else {}


def _is_inner(spec: SweepSpec, group: tuple) -> bool:
    """A group whose axes all lie under ``student_sections`` varies inside a unit."""
    return all(name.split(".")[0] in spec.student_sections for name, _ in group)


def grid_size(spec: SweepSpec) -> dict:
    """Counts from the axis lengths alone (nothing expanded): ``points`` (grid points), ``units``
    (teacher configurations: the product over groups with a non-student axis), ``runs``
    (points x seeds) and ``factors`` (one ``(axis names, length)`` per group)."""
    factors = [([n for n, _ in g], len(g[0][1])) for g in spec.axes]
    points = math.prod(n for _, n in factors)
    units = math.prod(len(g[0][1]) for g in spec.axes if not _is_inner(spec, g))
    return {"points": points, "units": units, "runs": points * len(spec.seeds), "factors": factors}


def first_unit(spec: SweepSpec, max_points: int = 64) -> tuple[Unit, int]:
    """The first unit of the plan built alone (at most ``max_points`` of its student points), and
    how many points the full unit has: a sample for cost estimates of grids too large to expand."""
    outer = [g for g in spec.axes if not _is_inner(spec, g)]
    inner = [g for g in spec.axes if _is_inner(spec, g)]
    head = SweepSpec(spec.name, spec.base, tuple(tuple((n, v[:1]) for n, v in g) for g in outer) + tuple(inner),
                     spec.seeds, spec.unit, spec.student_sections, spec.executor, spec.out, spec.source)
    n_inner = math.prod(len(g[0][1]) for g in inner)
    units = plan_units(head, max_points=None, _stop_after=max_points)
    return units[0], n_inner


def plan_units(spec: SweepSpec, max_points: int | None = MAX_GRID_POINTS, _stop_after: int | None = None) -> list[Unit]:
    """The grid (product over axis groups, zip inside a group) grouped into units by teacher config.

    Refuses (SweepSpecError with the counts) grids of more than ``max_points`` points, counted
    from the axis lengths before anything is built; ``max_points=None`` lifts the limit."""
    if max_points is not None:
        size = grid_size(spec)
        if size["points"] > max_points:
            raise SweepSpecError(
                f"sweep {spec.name!r}: the grid has {size['points']:,} points ({size['units']:,} units); "
                f"plan_units builds at most {max_points:,} (pass max_points=None to build it anyway)."
            )
    names_values = [list(zip(*[v for _, v in g])) for g in spec.axes]  # per group: list of value tuples
    group_names = [[n for n, _ in g] for g in spec.axes]
    by_teacher: dict[str, dict] = {}
    combos = itertools.product(*names_values) if names_values else [()]
    if _stop_after is not None:
        combos = itertools.islice(combos, _stop_after)
    for combo in combos:
        config = copy.deepcopy(spec.base)
        axes: dict[str, Any] = {}
        for names, values in zip(group_names, combo):
            for n, v in zip(names, values):
                _set_path(config, n, v)
                axes[n] = v
        teacher = {k: v for k, v in config.items() if k not in spec.student_sections}
        outer = {k: v for k, v in axes.items() if k.split(".")[0] not in spec.student_sections}
        key = stable_hash(teacher)
        entry = by_teacher.setdefault(key, {"teacher": teacher, "points": [], "axes": outer})
        entry["points"].append({"config": config, "axes": axes, "point_id": stable_hash(config, 12)})
    units = []
    for entry in by_teacher.values():
        uid = stable_hash({"teacher": entry["teacher"], "points": [p["config"] for p in entry["points"]],
                           "seeds": list(spec.seeds), "unit": spec.unit})
        units.append(Unit(uid, entry["teacher"], tuple(entry["points"]), tuple(spec.seeds), spec.unit, entry["axes"]))
    return units
