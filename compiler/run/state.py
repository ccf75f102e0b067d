"""Run keys, and each step's state: done, stale (with why) or missing.

The run key of a step is a sha256 over the step's plan fingerprint, the digests of
its model / calibration / checkpoint inputs, and the run key and output id of each
step it reads. A step is done when its store folder holds a completion record
whose run key equals the current one, and its script and output are as the record
left them; otherwise the first difference found is the reason it is stale: "plan
fingerprint changed", "model files changed (<path>)", "input step convert re-ran",
"steps/02-build.sh changed since the step was built", "output files changed since
it was built (rank0.engine edited)", ...
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compiler.findings import Finding, Severity
from compiler.plan.document import StepInputDocument
from compiler.plan.model import fingerprint
from compiler.run.digest import DigestCache, PathDigest, digest_path
from compiler.run.errors import BuildError, problem
from compiler.run.manifest import changes, describe, script_sha256
from compiler.run.plandoc import DIGESTED_KINDS, BuildPlan, PathVars, RunStep
from compiler.run.store import RECORD, Record, Store

RUN_KEY_VERSION = "run-key/1"
INPUT_MISSING = "B205"
INPUT_UNREADABLE = "B206"
OUTPUT_MODIFIED = "B301"
SCRIPT_MODIFIED = "B302"
REBUILD = "run `trtdeploy build DIR`: it builds the step again"
_WORDS = {"model": "model files", "calibration": "calibration data", "checkpoint": "checkpoint files"}


class State(str, enum.Enum):
    DONE = "done"
    STALE = "stale"
    MISSING = "missing"


@dataclass(frozen=True)
class StepState:
    """Where one step stands, and why; `digests` are its inputs' digests as found now."""

    step: RunStep
    state: State
    reason: str
    record: Record | None = None
    digests: Mapping[str, PathDigest] = field(default_factory=dict)
    notice: Finding | None = None  # a B301 / B302 warning when the step is stale because its files were changed

    @property
    def done(self) -> bool:
        return self.state is State.DONE


def run_key(step: RunStep, digests: Mapping[str, PathDigest], deps: Mapping[str, Record]) -> str:
    """The step's run key from its fingerprint, its inputs' digests and the outputs it reads."""
    return fingerprint(
        RUN_KEY_VERSION,
        step.fingerprint,
        sorted((text, d.digest) for text, d in digests.items()),
        sorted((dep, r.run_key, r.output_id) for dep, r in deps.items()),
    )


def looks_like_name(item: StepInputDocument) -> bool:
    """A calibration dataset given by name (e.g. cnn_dailymail): the tool downloads it, nothing to digest."""
    return item.kind == "calibration" and not re.search(r"[/~$]", item.path) and not item.path.startswith(".")


def input_digests(step: RunStep, variables: PathVars, root: Path, cache: DigestCache) -> dict[str, PathDigest]:
    """Digest each model, calibration and checkpoint input of a step.

    Raises:
        BuildError: an input path does not exist (a preflight failure).
    """
    found: dict[str, PathDigest] = {}
    for item in step.inputs:
        if item.kind not in DIGESTED_KINDS:
            continue
        path = variables.path(item.path, root)
        if not path.exists() and looks_like_name(item):
            found[item.path] = PathDigest(item.path, fingerprint("dataset-name", item.path), {})
            continue
        try:
            found[item.path] = digest_path(path, cache)
        except FileNotFoundError:
            raise BuildError(INPUT_MISSING, f"step {step.id}: {item.kind} input {path} does not exist"
                             + (f" (from {item.path})" if item.path != str(path) else ""), _missing_hint(item)) from None
        except OSError as exc:
            raise BuildError(INPUT_UNREADABLE, f"step {step.id}: cannot read {item.kind} input {path}: {exc}",
                             "check its permissions") from None
    return found


def _missing_hint(item: StepInputDocument) -> str:
    if "${MODEL_DIR}" in item.path:
        return "set TRTDEPLOY_MODEL_DIR to the model folder on this host, or fix model.path in the spec and recompile"
    return "put the file there, or fix the path in the spec and recompile"


def assess_step(step: RunStep, store: Store, digests: Mapping[str, PathDigest], deps: Mapping[str, StepState],
                full: bool = False) -> StepState:
    """The state of one step, given its inputs' digests and the states of the steps it reads.

    `full` checks every output file's sha256 (--verify), not only sizes and mtimes.
    """
    record = store.record(step)
    if record is None:
        return _without_record(step, store, digests)
    reason = _first_change(step, record, digests, deps)
    if reason is None:
        dep_records = {d: deps[d].record for d in step.depends_on}
        if run_key(step, digests, {d: r for d, r in dep_records.items() if r is not None}) != record.run_key:
            return StepState(step, State.STALE, "run key changed", record, digests)
        return _tampering(step, store, record, digests, full) or \
            StepState(step, State.DONE, f"built {record.finished}", record, digests)
    return StepState(step, State.STALE, reason, record, digests)


def _tampering(step: RunStep, store: Store, record: Record, digests: Mapping[str, PathDigest],
               full: bool) -> StepState | None:
    """A stale state when the script or the output of a built step changed since it was built."""
    script = script_sha256(store.root / step.script)
    if script != record.script_sha256:
        how = "is missing" if script is None else "changed since the step was built"
        reason = f"{step.script} {how}"
        notice = problem(SCRIPT_MODIFIED, f"step {step.id}: {reason}", REBUILD + " with the script of the plan "
                         "(`trtdeploy compile` writes it again)", severity=Severity.WARNING)
        return StepState(step, State.STALE, reason, record, digests, notice)
    found = changes(store.final(step), record.outputs, full, frozenset({RECORD}))
    if not found:
        return None
    reason = f"output files changed since it was built ({describe(found)})"
    notice = problem(OUTPUT_MODIFIED, f"step {step.id}: {step.output}: " + "; ".join(f"{c.path} {c.what}" for c in found),
                     REBUILD, severity=Severity.WARNING)
    return StepState(step, State.STALE, reason, record, digests, notice)


def _without_record(step: RunStep, store: Store, digests: Mapping[str, PathDigest]) -> StepState:
    if store.has_record_file(step):
        return StepState(step, State.MISSING, "its completion record is damaged or from another trtdeploy version",
                         None, digests)
    if store.final(step).exists():
        return StepState(step, State.MISSING, "a run stopped before it finished (no completion record)", None, digests)
    earlier = store.earlier_builds(step)
    if earlier:
        last = max(earlier, key=lambda r: r.finished)
        return StepState(step, State.STALE, _fingerprint_reason(step, last), None, digests)
    return StepState(step, State.MISSING, "not built yet", None, digests)


def _fingerprint_reason(step: RunStep, record: Record) -> str:
    changed = sorted(k for k in set(step.aspects) | set(record.aspects) if step.aspects.get(k) != record.aspects.get(k))
    return "plan fingerprint changed" + (f" ({', '.join(changed)})" if changed else "")


def _first_change(step: RunStep, record: Record, digests: Mapping[str, PathDigest], deps: Mapping[str, StepState]) -> str | None:
    if record.fingerprint != step.fingerprint:
        return _fingerprint_reason(step, record)
    for text, now in digests.items():
        reason = _input_change(text, now, record.inputs.get(text))
        if reason:
            return reason
    for dep in step.depends_on:
        reason = _dep_change(dep, deps[dep], record.depends_on.get(dep))
        if reason:
            return reason
    return None


def _input_change(text: str, now: PathDigest, then: Mapping[str, object] | None) -> str | None:
    if then is None:
        return f"new input {now.path}"
    if then.get("digest") == now.digest:
        return None
    kind = str(then.get("kind", "model"))
    files = then.get("files")
    changed = now.changed_files(files if isinstance(files, dict) else {})
    where = str(Path(now.path) / changed[0]) if changed and Path(now.path).is_dir() else now.path
    more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
    return f"{_WORDS.get(kind, kind + ' files')} changed ({where}{more})"


def _dep_change(dep: str, state: StepState, then: Mapping[str, str] | None) -> str | None:
    if state.state is State.MISSING:
        return f"input step {dep} is missing (will run)"
    if state.state is State.STALE:
        return f"input step {dep} is stale (will re-run)"
    if then is None or state.record is None or then.get("output_id") != state.record.output_id:
        return f"input step {dep} re-ran"
    return None


def assess(plan: BuildPlan, store: Store, variables: PathVars, cache: DigestCache, strict: bool = True,
           full: bool = False) -> list[StepState]:
    """Every step's state, in plan order (`full`: every output file's sha256 is checked).

    With strict=False (for `status`), a missing input makes the step stale or missing
    with that as the reason, instead of raising.

    Raises:
        BuildError: strict, and an input path does not exist.
    """
    states: dict[str, StepState] = {}
    for step in plan.steps:
        try:
            digests = input_digests(step, variables, plan.root, cache)
        except BuildError as exc:
            if strict:
                raise
            record = store.record(step)
            states[step.id] = StepState(step, State.STALE if record else State.MISSING, exc.message, record)
            continue
        states[step.id] = assess_step(step, store, digests, states, full)
    return list(states.values())


def edited_scripts(plan: BuildPlan, skip: frozenset[str] | set[str] = frozenset()) -> list[Finding]:
    """A B302 warning for each script (of a step not in `skip`) that is not the one plan.json records."""
    found = []
    for step in plan.steps:
        wanted = step.document.script_sha256
        if step.id not in skip and wanted is not None and script_sha256(plan.root / step.script) != wanted:
            found.append(problem(SCRIPT_MODIFIED, f"{step.script} was edited after compile (its sha256 is not the one "
                                 "plan.json records); `trtdeploy build` will refuse to run it",
                                 "recompile the build folder (`trtdeploy compile SPEC -o DIR`)", severity=Severity.WARNING))
    return found
