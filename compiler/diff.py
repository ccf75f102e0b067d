"""diff: two versions of a spec -> what the change costs, for review.

Owns comparing specs (two files, or every spec changed between a git revision and
the working tree, following `extends`), classifying the impact from the plans'
step fingerprints (requantize > rebuild > reverify > relaunch > none), memory per GPU
before and after, findings added and removed, and both sides' verify gates beside what
the spec's last build measured (its results.json). Git is used through its own CLI.

The revision's side is copied out of git into a temporary folder by object id. Its
tree is untrusted (a commit can hold `..`, `.git` or empty path components, which
git itself never checks out), so such a tree is refused before anything is written,
and every file is created inside that folder, never through a link.
"""

from __future__ import annotations

import enum
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.escape import visible
from compiler.findings import Finding, Severity
from compiler.load import KeyPath, LoadedSpec, dotted
from compiler.migration import Migration, migration
from compiler.pipeline import SpecReport, check_spec, find_specs
from compiler.decide.model import Backend
from compiler.plan.model import Impact, Plan
from compiler.results import margin

IMPACT_COST = {
    Impact.NONE: "nothing re-runs (comments, formatting or equivalent values)",
    Impact.RELAUNCH: "only the launch changes: restart the ranks with the same engine or checkpoint",
    Impact.REVERIFY: "re-runs the verification steps against the same build",
    Impact.REBUILD: "re-runs the engine build (trtllm-build) and relaunches; the quantized checkpoint is kept",
    Impact.REQUANTIZE: "re-runs quantization or checkpoint conversion and everything after it",
}

# Fallback when a plan cannot be made on one side (the spec has errors): the key's top-level
# section decides, as the planner of the side's backend would.
ENGINE_SECTION_IMPACT: Mapping[str, Impact] = {
    "model": Impact.REQUANTIZE,
    "quantization": Impact.REQUANTIZE,
    "parallelism": Impact.REQUANTIZE,  # the checkpoint is converted per rank
    "limits": Impact.REBUILD,
    "plugins": Impact.REBUILD,
    "target": Impact.REBUILD,
    "build": Impact.REBUILD,
    "runtime": Impact.NONE,  # the PyTorch backend's LLM-API settings: the engine path does not read them
    "launch": Impact.RELAUNCH,
    "verify": Impact.REVERIFY,
    "name": Impact.NONE,
    "description": Impact.NONE,
    "extends": Impact.NONE,
    "abstract": Impact.NONE,
    "ignore": Impact.NONE,
    "error": Impact.NONE,
    "*": Impact.REBUILD,  # any other section
}
# The PyTorch backend builds nothing: limits, plugins (kv_cache_config.tokens_per_block) and runtime are LLM-API
# settings of the launch, and so are tp and pp, since ModelOpt's HF export is one checkpoint the server shards
# (compiler/catalog/pytorch/quantization.yaml hf_export_layout). A release, GPU or ModelOpt change can re-run
# the export.
PYTORCH_SECTION_IMPACT: Mapping[str, Impact] = {
    **ENGINE_SECTION_IMPACT,
    "parallelism": Impact.RELAUNCH,
    "limits": Impact.RELAUNCH,
    "plugins": Impact.RELAUNCH,
    "target": Impact.REQUANTIZE,
    "build": Impact.REQUANTIZE,
    "runtime": Impact.RELAUNCH,
    "*": Impact.REQUANTIZE,  # there is no rebuild to fall back on
}
SECTION_IMPACT: Mapping[Backend, Mapping[str, Impact]] = {
    Backend.TENSORRT: ENGINE_SECTION_IMPACT,
    Backend.PYTORCH: PYTORCH_SECTION_IMPACT,
}


class Status(str, enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    RENAMED = "renamed"
    MODIFIED = "modified"


@dataclass(frozen=True)
class KeyChange:
    key: str
    old: Any
    new: Any
    line: int | None


# The aspect of a step the new plan no longer has.
REMOVED_STEP = "removed"


@dataclass(frozen=True)
class StepChange:
    """A step (or the launch) that re-runs, the aspects of it that changed, and what re-running it costs."""

    step: str
    tool: str
    aspects: tuple[str, ...]
    impact: Impact


@dataclass(frozen=True)
class GateChange:
    """One gate on either side of a change: its thresholds, and what the last build of the spec measured.

    `measured_on` says which side's verify step produced `value`: "base", "head", "both" (the step is the
    same on both sides), or "" when no results exist or they belong to neither plan; `passed` judges
    `value` against this change's threshold (the base's, for a gate this change removes).
    """

    name: str
    unit: str
    bound: str
    before: float | None
    after: float | None
    value: float | None = None
    passed: bool | None = None
    measured_on: str = ""


@dataclass(frozen=True)
class MemorySide:
    per_gpu_bytes: int
    usable_bytes: int
    fits: bool


@dataclass(frozen=True)
class SpecDiff:
    path: str
    old_path: str | None
    status: Status
    impact: Impact
    changes: tuple[KeyChange, ...]
    steps: tuple[StepChange, ...]
    memory_before: MemorySide | None
    memory_after: MemorySide | None
    findings_added: tuple[Finding, ...]
    findings_removed: tuple[Finding, ...]
    via: tuple[str, ...] = field(default=())
    abstract: bool = False
    gates: tuple[GateChange, ...] = field(default=())
    migration: Migration | None = None

    @property
    def introduces_error(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings_added)


@dataclass(frozen=True)
class Side:
    """One version of a spec: its report (findings, resolved) and its plan when it has no error."""

    report: SpecReport
    loaded: LoadedSpec
    plan: Plan | None


def _side(path: str, root: Path | None = None) -> Side:
    """One spec's side; `root` is the folder it and its bases must lie in (its repository by default)."""
    report = check_spec(path, root=root, plan=True)
    assert report.loaded is not None  # check_spec always loads
    return Side(report, report.loaded, report.plan)


def _flatten(data: Any, prefix: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    if isinstance(data, Mapping) and data:
        for key, value in data.items():
            yield from _flatten(value, (*prefix, key))
    elif prefix:  # a spec that did not load has no keys, not one nameless key
        yield prefix, data


def _effective(side: LoadedSpec | None, key: KeyPath) -> Any:
    """The value a spec has for a key it does not write: its default, shown as such."""
    if side is None or side.spec is None:
        return None
    value: Any = side.spec.model_dump(mode="json")
    for part in key:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return DefaultValue(value)


@dataclass(frozen=True)
class DefaultValue:
    """A value the spec does not write; it comes from the spec language's default."""

    value: Any

    def __str__(self) -> str:
        return f"{self.value} (default)"


def key_changes(old: LoadedSpec | None, new: LoadedSpec | None) -> list[KeyChange]:
    """Keys whose written values differ, with the new line (or the old one for a removed key)."""
    before = dict(_flatten(old.raw)) if old else {}
    after = dict(_flatten(new.raw)) if new else {}
    changes = []
    for key in sorted(set(before) | set(after), key=dotted):
        if before.get(key, _MISSING) == after.get(key, _MISSING):
            continue
        old_value = before[key] if key in before else _effective(old, key)
        new_value = after[key] if key in after else _effective(new, key)
        if _plain(old_value) == _plain(new_value):
            continue
        side = new if key in after else old
        loc = side.positions.get(key) if side else None
        changes.append(KeyChange(dotted(key), old_value, new_value, loc.line if loc else None))
    return changes


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, DefaultValue) else value


_MISSING = object()


def _step_changes(old: Plan, new: Plan) -> list[StepChange]:
    before = {s.id: s for s in old.steps}
    changes = []
    for step in new.steps:
        prior = before.get(step.id)
        if prior is None or prior.fingerprint != step.fingerprint:
            aspects = sorted(k for k in step.aspects if prior is None or prior.aspects.get(k) != step.aspects[k])
            changes.append(StepChange(step.id, step.tool, tuple(aspects) or ("inputs",), step.impact))
    for step_id in sorted(before.keys() - {s.id for s in new.steps}):  # nothing re-runs for a step that is gone
        changes.append(StepChange(step_id, before[step_id].tool, (REMOVED_STEP,), Impact.NONE))
    if old.launch.fingerprint != new.launch.fingerprint:
        changes.append(StepChange("launch", new.launch.launcher, _launch_aspects(old, new), Impact.RELAUNCH))
    return changes


def _launch_aspects(old: Plan, new: Plan) -> tuple[str, ...]:
    """The launch's aspects that changed (the launcher's own, e.g. kubernetes.replicas, among them); a launch
    whose fingerprint moved without any of them (the ranks' argv) says "launch"."""
    before, after = old.launch.aspects, new.launch.aspects
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    return tuple(changed) or ("launch",)


def _impact_from_steps(steps: list[StepChange]) -> Impact:
    """The costliest re-run: each step says what re-running it costs, the launch costs a relaunch."""
    return max((c.impact for c in steps), key=lambda i: i.rank, default=Impact.NONE)


def _impact_from_keys(changes: Iterable[KeyChange], backends: Iterable[Backend]) -> Impact:
    """The costliest section a change touches, by the tables of the sides' backends (both when unknown)."""
    tables = [SECTION_IMPACT[b] for b in set(backends)] or list(SECTION_IMPACT.values())
    worst = Impact.NONE
    for change in changes:
        section = change.key.split(".")[0]
        impact = max((table.get(section, table["*"]) for table in tables), key=lambda i: i.rank)
        worst = max(worst, impact, key=lambda i: i.rank)
    return worst


def _backends(*sides: Side | None) -> list[Backend]:
    """The backends the sides decided (a side that did not resolve decided none)."""
    return [side.report.decided.backend.value for side in sides
            if side is not None and side.report.decided is not None]


def _abstract(side: Side) -> bool:
    return side.loaded.spec is not None and side.loaded.spec.abstract


def _memory(side: Side | None) -> MemorySide | None:
    if side is None or side.plan is None:
        return None
    m = side.plan.memory
    return MemorySide(m.total_bytes, m.usable_bytes, m.fits)


def _finding_key(f: Finding) -> tuple[str, str, str, str]:
    return (f.code, f.severity.value, f.key, f.message)


def _gate_changes(old: Plan | None, new: Plan | None, builds: Path | None) -> tuple[GateChange, ...]:
    """Both sides' gates, with the figures of the spec's last build (builds/<name>/results.json) when there are."""
    before = {g.name: g for g in old.gates} if old else {}
    after = {g.name: g for g in new.gates} if new else {}
    if not before and not after:
        return ()
    measured = _measured(new or old, builds)
    steps = {side: {s.id: s.fingerprint for s in plan.steps} for side, plan in (("base", old), ("head", new)) if plan}
    changes = []
    for name in [*before, *(n for n in after if n not in before)]:
        gate = after.get(name) or before[name]
        result = measured.get(name)
        sides = [side for side, prints in steps.items() if result is not None and prints.get(result[0]) == result[1]]
        on = "both" if len(sides) == 2 else sides[0] if sides else ""
        value = result[2] if result is not None and on else None
        # The verdict against this change's threshold: a value measured on the base is judged again here.
        passed = None if value is None else (margin(value, gate.threshold, gate.bound) >= 0)
        changes.append(GateChange(name, gate.unit, gate.bound, before[name].threshold if name in before else None,
                                  after[name].threshold if name in after else None, value, passed, on))
    return tuple(changes)


def _measured(plan: Plan | None, builds: Path | None) -> dict[str, tuple[str, str, float | None]]:
    """gate name -> (step, the step's fingerprint when measured, value) from the last build's results.json."""
    from compiler.results import ResultsError, read_results

    if plan is None or builds is None:
        return {}
    try:
        results = read_results(builds / plan.name / "results.json")
    except ResultsError:
        return {}
    prints = {m.step: m.fingerprint for m in results.measured}
    return {g.name: (g.step, prints.get(g.step, ""), g.value) for g in results.gates}


def compare(old: Side | None, new: Side | None, path: str, old_path: str | None, status: Status,
            via: tuple[str, ...] = (), builds: Path | None = None) -> SpecDiff:
    changes = key_changes(old.loaded if old else None, new.loaded if new else None)
    steps: list[StepChange] = []
    if old and new and old.plan and new.plan:
        steps = _step_changes(old.plan, new.plan)
        impact = _impact_from_steps(steps)
    elif old and new and not _abstract(new):
        impact = _impact_from_keys(changes, _backends(old, new))
    else:
        impact = Impact.REQUANTIZE if new and not _abstract(new) else Impact.NONE
    before = {_finding_key(f): f for f in old.report.findings} if old else {}
    after = {_finding_key(f): f for f in new.report.findings} if new else {}
    return SpecDiff(
        path=path,
        old_path=old_path,
        status=status,
        impact=impact,
        changes=tuple(changes),
        steps=tuple(steps),
        memory_before=_memory(old),
        memory_after=_memory(new),
        findings_added=tuple(f for k, f in after.items() if k not in before),
        findings_removed=tuple(f for k, f in before.items() if k not in after),
        via=via,
        abstract=bool(new and _abstract(new)) or bool(old and not new and _abstract(old)),
        gates=_gate_changes(old.plan if old else None, new.plan if new else None, builds),
        migration=_migration(old, new),
    )


def _migration(old: Side | None, new: Side | None) -> Migration | None:
    """What a change of backend drops, maps and cannot serve; None without one (or a side that did not decide)."""
    if old is None or new is None or old.report.decided is None or new.report.decided is None:
        return None
    return migration(old.report.decided, new.report.decided, old.plan, new.plan, new.report.findings)


def diff_files(old_path: str, new_path: str, builds: Path | None = None) -> SpecDiff:
    """Compare two spec files; `builds` holds build folders by spec name, whose results.json the gates show."""
    return compare(_side(old_path), _side(new_path), new_path, old_path, Status.MODIFIED, builds=builds)


# --- git -------------------------------------------------------------------------------------


class GitError(RuntimeError):
    """git failed or is missing, or a tree (the revision's or the working tree) cannot be read; `hint` says what to do."""

    def __init__(self, message: str,
                 hint: str = "run inside a git repository and name a revision that exists (e.g. origin/main)") -> None:
        super().__init__(message)
        self.hint = hint


UNREADABLE_TREE_HINT = "compare with another revision; this one's tree cannot be copied out safely"


def _git(root: Path, *args: str) -> str:
    """git's output; paths that are not UTF-8 come back as lone surrogates, as os.fsdecode gives them."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        raise GitError(done.stderr.decode("utf-8", "replace").strip() or f"git {' '.join(args)} failed")
    return done.stdout.decode("utf-8", "surrogateescape")


SPEC_LIKE = (".yaml", ".yml", ".json")
# Tree entries that are files: a link (120000) is not followed, a submodule (160000) is another repository.
FILE_MODES = frozenset({"100644", "100755"})


def _tree_files(root: Path, rev: str) -> dict[str, str]:
    """The spec-like files of `rev`'s tree: path -> blob id.

    Raises:
        GitError: a path in the tree has an empty, `.`, `..` or `.git` component, or is there twice.
    """
    files = {}
    for entry in filter(None, _git(root, "ls-tree", "-r", "-z", "--full-tree", rev).split("\0")):
        meta, _, path = entry.partition("\t")
        mode, kind, blob = meta.split(" ")
        if kind != "blob" or mode not in FILE_MODES or not path.endswith(SPEC_LIKE):
            continue
        if any(part in ("", ".", "..") or part.lower() == ".git" for part in path.split("/")):
            raise GitError(f"{rev} holds the path {visible(path)!r}, which leaves the repository; "
                           "git itself refuses to check such a tree out", UNREADABLE_TREE_HINT)
        if path in files:
            raise GitError(f"{rev} holds {visible(path)!r} twice; git fsck reports such a tree as broken",
                           UNREADABLE_TREE_HINT)
        files[path] = blob
    return files


def _materialize(root: Path, rev: str, dest: Path) -> None:
    """Write the spec-like files (YAML, JSON) of `rev` into `dest`, keeping their paths.

    Blobs are read by id through one `git cat-file --batch`; each file is created new inside
    `dest` (O_EXCL, O_NOFOLLOW), so a tree naming one path twice cannot overwrite or escape.
    """
    files = _tree_files(root, rev)
    contents = _blobs(root, list(files.values()))
    for path, blob in files.items():
        target = dest.joinpath(*path.split("/"))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(handle, "wb") as out:
                out.write(contents[blob])
        except OSError as exc:
            raise GitError(f"cannot copy {visible(path)!r} of {rev}: {exc.strerror or exc}", UNREADABLE_TREE_HINT) from None


def _blobs(root: Path, ids: list[str]) -> dict[str, bytes]:
    """The contents of the blobs `ids`, read in one `git cat-file --batch`."""
    request = "".join(f"{blob}\n" for blob in dict.fromkeys(ids)).encode("ascii")
    try:
        done = subprocess.run(["git", "cat-file", "--batch"], cwd=root, input=request, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        raise GitError(done.stderr.decode("utf-8", "replace").strip() or "git cat-file failed")
    out, at, contents = done.stdout, 0, {}
    for blob in dict.fromkeys(ids):
        header_end = out.index(b"\n", at)
        name, kind, size = out[at:header_end].decode("ascii").split(" ")
        if name != blob or kind != "blob":
            raise GitError(f"git cat-file gave {name} {kind} for blob {blob}")
        start = header_end + 1
        contents[blob] = out[start:start + int(size)]
        at = start + int(size) + 1
    return contents


def _spec_files(base: Path, paths: Iterable[str]) -> dict[str, Path]:
    """Spec files under `paths` (relative to the repository root), keyed by their repository path.

    The key is the path as found, links not followed: a spec that is a link leaving the
    repository is still compared, and its loader refuses it (S115).

    Raises:
        GitError: a folder under `paths` cannot be read; its specs would look removed.
    """
    found: dict[str, Path] = {}
    for rel in paths:
        search = find_specs([str(base / rel)])  # a path missing on this side has no specs here
        for folder, why in search.unreadable:
            raise GitError(f"cannot read the folder {visible(folder)}: {why}",
                           "diff reads every spec under the paths given; make the folder readable")
        for file in search.files:
            key = os.path.relpath(os.path.normpath(os.path.abspath(file)), os.path.abspath(base))
            if not key.startswith(".." + os.sep) and key != "..":
                found[key] = Path(file)
    return found


def _renames(root: Path, rev: str, paths: list[str]) -> dict[str, str]:
    out = _git(root, "diff", "--name-status", "-M", "-z", rev, "--", *paths)
    fields = out.split("\0")
    renames: dict[str, str] = {}
    i = 0
    while i < len(fields) - 1:
        status = fields[i]
        if status.startswith("R"):
            renames[fields[i + 2]] = fields[i + 1]
            i += 3
        else:
            i += 2
    return renames


def _chain_files(side: Side, base: Path) -> set[str]:
    files = set()
    for shown in side.loaded.chain:
        try:
            files.add(str(Path(shown).resolve().relative_to(base.resolve())))
        except ValueError:
            continue
    return files


def diff_revision(root: Path, rev: str, paths: Iterable[str], builds: Path | None = None) -> list[SpecDiff]:
    """Every spec under `paths` that differs between `rev` and the working tree (extends followed); `builds` holds
    build folders by spec name, whose results.json the gates show."""
    paths = list(paths) or ["."]
    if rev.startswith("-"):
        raise GitError(f"{visible(rev)!r} is not a revision (it would be read as an option)",
                       "name a branch, tag or commit, e.g. --base origin/main")
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    prefix = root.resolve().relative_to(top.resolve())
    rel_paths = [str(prefix / p) for p in paths]
    _git(top, "rev-parse", "--verify", f"{rev}^{{commit}}")
    with tempfile.TemporaryDirectory(prefix="trtdeploy-diff-") as tmp:
        old_root = Path(tmp)
        _materialize(top, rev, old_root)
        old_files = _spec_files(old_root, rel_paths)
        new_files = _spec_files(top, rel_paths)
        renames = {new: old for new, old in _renames(top, rev, rel_paths).items() if old in old_files}
        return _compare_trees(old_root, top, old_files, new_files, renames, builds)


def _compare_trees(old_root: Path, new_root: Path, old_files: dict[str, Path], new_files: dict[str, Path],
                   renames: dict[str, str], builds: Path | None = None) -> list[SpecDiff]:
    diffs = []
    paired_old = set(renames.values())
    for rel, new_file in sorted(new_files.items()):
        old_rel = renames.get(rel, rel if rel in old_files else None)
        new_side = _side(str(new_file), new_root)
        if old_rel is None:
            diffs.append(compare(None, new_side, rel, None, Status.ADDED, builds=builds))
            continue
        old_side = _side(str(old_files[old_rel]), old_root)
        changed_chain = _changed_chain(old_root, new_root, new_side)
        if not changed_chain and old_rel == rel:
            continue
        status = Status.RENAMED if old_rel != rel else Status.MODIFIED
        via = tuple(sorted(c for c in changed_chain if c != rel))
        diffs.append(compare(old_side, new_side, rel, old_rel, status, via, builds))
    for rel, old_file in sorted(old_files.items()):
        if rel not in new_files and rel not in paired_old:
            diffs.append(compare(_side(str(old_file), old_root), None, rel, rel, Status.REMOVED, builds=builds))
    return diffs


def _changed_chain(old_root: Path, new_root: Path, side: Side) -> list[str]:
    """Files of the spec's extends chain whose bytes differ between the two trees."""
    changed = []
    for rel in _chain_files(side, new_root):
        before = old_root / rel
        after = new_root / rel
        if not before.is_file() or before.read_bytes() != after.read_bytes():
            changed.append(rel)
    return changed
