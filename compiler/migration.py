"""A backend migration: what a spec change across TensorRT-LLM's execution paths drops, maps and cannot serve.

When the decided backend differs between two versions of a spec (written, or `auto` deciding
otherwise because the release moved across 1.0 or across the 1.3.0 removal of the engine path),
the steps that re-run do not tell a reviewer what became of the old deployment's settings. This
lists, per spec: what is dropped (steps and launch files the new backend has no counterpart for,
settings the old backend applied by default that the new one handles itself), what is added, what
maps to what, what the spec writes that has no equivalent on the new backend, and what the new
backend cannot serve (its H110 / H111 findings). The mapping between engine build settings and
LLM-API settings is the PyTorch backend's own (compiler.backends.pytorch MANAGED_OPTIONS and
ENGINE_ONLY), read here in either direction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from compiler.backends.pytorch import ENGINE_ONLY, MANAGED_OPTIONS
from compiler.decide.model import Backend, Decided, Setting
from compiler.findings import Finding
from compiler.load import has_dotted_key
from compiler.plan.model import Plan

# The findings that say what a backend cannot serve at all.
CANNOT_SERVE = frozenset({"H110", "H111"})
# MANAGED_OPTIONS entries that are not engine settings: the backend choice itself, and build_config, which only
# carries the limits in some releases (they are mapped one by one).
NOT_MIGRATED = frozenset({"backend", "build_config"})
LAYOUT = {"parallelism.tp": "--tp_size", "parallelism.pp": "--pp_size"}
ENGINE_LAUNCH = ("the engine path's launch takes no LLM-API settings: trtdeploy writes runtime.* for the PyTorch "
                 "backend only")


@dataclass(frozen=True)
class MigrationItem:
    """One thing of the old deployment (or one the new one adds) and what becomes of it.

    `subject` is a spec key, an LLM-API key or a step; `value` what the old side had for it
    (None: no single value); `becomes` what takes its place ("" when nothing does).
    """

    subject: str
    value: object
    becomes: str
    why: str


@dataclass(frozen=True)
class Migration:
    """One spec's change of backend: `why` is the new side's decision (its reason; empty when written)."""

    old_backend: str
    new_backend: str
    why: str
    dropped: tuple[MigrationItem, ...]
    added: tuple[MigrationItem, ...]
    mapped: tuple[MigrationItem, ...]
    no_equivalent: tuple[MigrationItem, ...]
    cannot_serve: tuple[Finding, ...]


@dataclass
class _Items:
    dropped: list[MigrationItem] = field(default_factory=list)
    added: list[MigrationItem] = field(default_factory=list)
    mapped: list[MigrationItem] = field(default_factory=list)
    no_equivalent: list[MigrationItem] = field(default_factory=list)

    def gone(self, written: bool, item: MigrationItem) -> None:
        """What the spec writes has no equivalent; what the old backend did by itself is dropped."""
        (self.no_equivalent if written else self.dropped).append(item)


def migration(old: Decided, new: Decided, old_plan: Plan | None, new_plan: Plan | None,
              new_findings: Iterable[Finding]) -> Migration | None:
    """The migration between two decided versions of a spec; None when both are on the same backend.

    The steps and launch files are compared only when both sides plan.
    """
    if old.backend.value is new.backend.value:
        return None
    items = _Items()
    if old_plan is not None and new_plan is not None:
        _steps_and_files(old_plan, new_plan, new.backend.value, items)
    if new.backend.value is Backend.PYTORCH:
        _to_pytorch(old, new, items)
    else:
        _to_engine(old, new, items)
    return Migration(old.backend.value.value, new.backend.value.value, new.backend.reason, tuple(items.dropped),
                     tuple(items.added),
                     tuple(items.mapped), tuple(items.no_equivalent),
                     tuple(f for f in new_findings if f.code in CANNOT_SERVE))


def _steps_and_files(old: Plan, new: Plan, backend: Backend, items: _Items) -> None:
    before, after = {s.id: s for s in old.steps}, {s.id: s for s in new.steps}
    for step_id, step in before.items():
        if step_id not in after:
            items.dropped.append(MigrationItem(f"step {step_id}", step.tool, "",
                                               f"the {backend.value} backend has no {step.tool} step"))
        elif after[step_id].tool != step.tool:
            items.mapped.append(MigrationItem(f"step {step_id}", step.tool, after[step_id].tool,
                                              after[step_id].reason))
    items.added += [MigrationItem(f"step {step_id}", step.tool, "", step.reason)
                    for step_id, step in after.items() if step_id not in before]
    old_files, new_files = _text_files(old), _text_files(new)
    items.dropped += [MigrationItem(path, None, "", f"the {backend.value} backend's launch does not read it")
                      for path in sorted(old_files - new_files)]
    items.added += [MigrationItem(path, None, "", f"the {backend.value} backend's launch reads it")
                    for path in sorted(new_files - old_files)]


def _text_files(plan: Plan) -> set[str]:
    return {path for path, kind in plan.launch.files.items() if kind == "text"}


def _llm_keys_of() -> dict[str, list[str]]:
    """Spec key -> the LLM-API keys the PyTorch backend writes from it (MANAGED_OPTIONS read backwards)."""
    keys: dict[str, list[str]] = {}
    for llm_key, spec_keys in MANAGED_OPTIONS.items():
        if llm_key not in NOT_MIGRATED:
            for spec_key in spec_keys:
                keys.setdefault(spec_key, []).append(llm_key)
    return keys


def _written_in(options: Mapping[str, object], llm_key: str) -> str | None:
    """Where the LLM-API file holds `llm_key`: at the top, under build_config, or nowhere (None)."""
    if has_dotted_key(options, llm_key):
        return llm_key
    nested = f"build_config.{llm_key}"
    return nested if has_dotted_key(options, nested) else None


def _decided(d: Decided, key: str) -> str:
    """A spec key with the value the new side decided for it, where it decides one."""
    if key == "quantization.kv_cache":
        return f"{key} = {json.dumps(d.kv_cache.value.value)}"
    setting = d.settings.get(key)
    return key if setting is None or setting.value is None else f"{key} = {json.dumps(setting.value)}"


def _value(d: Decided, spec_key: str) -> object:
    """The decided value of a limit, the KV dtype or tp / pp."""
    section, _, name = spec_key.partition(".")
    if section == "limits":
        value = getattr(d.limits, name)
        return value.value if isinstance(value, Setting) else value
    if spec_key == "quantization.kv_cache":
        return d.kv_cache.value.value
    return getattr(d.topology, name)


def _to_pytorch(old: Decided, new: Decided, items: _Items) -> None:
    from compiler.backends.pytorch.steps import (
        llm_api_options,  # the plan half: the file the launch would write
    )

    llm_keys = _llm_keys_of()
    options = llm_api_options(new)
    for key, setting in old.settings.items():  # the engine's build settings (plugins.*)
        here = new.settings.get(key)
        if key in llm_keys:  # plugins.tokens_per_block
            if here is not None and here.value is not None:
                items.mapped.append(MigrationItem(key, setting.value, f"LLM-API {', '.join(llm_keys[key])}",
                                                  here.reason))
            else:
                items.gone(setting.written, MigrationItem(key, setting.value, "", here.reason if here else ""))
        elif key in ENGINE_ONLY:
            only = ENGINE_ONLY[key]
            if only.counterpart is not None:
                items.mapped.append(MigrationItem(key, setting.value, _decided(new, only.counterpart), only.why))
            elif setting.written or setting.value is not None:
                items.gone(setting.written, MigrationItem(key, setting.value, "", only.why))
        else:
            items.gone(setting.written, MigrationItem(key, setting.value, "", "the PyTorch backend has no such setting"))
    for key, only in ENGINE_ONLY.items():  # written engine settings that are not plugin settings (build.workers)
        if key not in old.settings and old.r.is_written(key):
            items.no_equivalent.append(MigrationItem(key, None, "", only.why))
    for spec_key, keys in llm_keys.items():
        if spec_key.startswith(("limits.", "quantization.")):
            where = [w for k in keys if (w := _written_in(options, k)) is not None]
            if where:
                items.mapped.append(MigrationItem(spec_key, _value(old, spec_key), f"LLM-API {', '.join(where)}",
                                                  "a setting of the server, not of a built engine"))
        elif spec_key in LAYOUT and _value(old, spec_key) != 1:
            items.mapped.append(MigrationItem(spec_key, _value(old, spec_key), f"trtllm-serve {LAYOUT[spec_key]}",
                                              "ModelOpt's HF export is one checkpoint, which the server shards "
                                              "when it loads; the engine path converted it per rank"))


def _to_engine(old: Decided, new: Decided, items: _Items) -> None:
    llm_keys = _llm_keys_of()
    by_counterpart = {only.counterpart: key for key, only in ENGINE_ONLY.items() if only.counterpart is not None}
    for key, setting in old.settings.items():  # runtime.*, plugins.tokens_per_block, written engine settings
        there = new.settings.get(key)
        engine_key = by_counterpart.get(key)
        if engine_key is not None and engine_key in new.settings:
            items.mapped.append(MigrationItem(key, setting.value, _decided(new, engine_key), ENGINE_ONLY[engine_key].why))
        elif key in ENGINE_ONLY or (key.startswith("plugins.") and there is not None):
            why = there.reason if there is not None and there.value is None else "the engine is built with it"
            items.mapped.append(MigrationItem(key, setting.value, f"{key} (trtllm-build)", why))
        elif key == "launch.run":
            items.mapped.append(MigrationItem(key, str(setting.value), "run.py on every rank",
                                              "the engine path's smoke run generates from the engine directly"))
        elif key.startswith("runtime."):
            items.gone(setting.written, MigrationItem(key, setting.value, "", ENGINE_LAUNCH))
    if old.r.spec.runtime.llm_api_options:
        items.no_equivalent.append(MigrationItem("runtime.llm_api_options", sorted(old.r.spec.runtime.llm_api_options),
                                                 "", ENGINE_LAUNCH))
    for spec_key, keys in llm_keys.items():
        if spec_key.startswith("limits."):
            items.mapped.append(MigrationItem(f"LLM-API {', '.join(keys)}", _value(old, spec_key),
                                              f"{spec_key} (trtllm-build)", "a limit of the built engine"))
        elif spec_key == "quantization.kv_cache" and new.route.kv_quantizer is not None:
            items.mapped.append(MigrationItem(f"LLM-API {', '.join(keys)}", _value(old, spec_key),
                                              f"{spec_key} ({new.route.kv_quantizer})",
                                              "the engine's KV cache is quantized when it is built"))
        elif spec_key in LAYOUT and _value(old, spec_key) != 1:
            items.mapped.append(MigrationItem(f"trtllm-serve {LAYOUT[spec_key]}", _value(old, spec_key),
                                              f"{spec_key} (a checkpoint per rank)",
                                              "the engine path converts the checkpoint for its tp x pp ranks"))
