"""S rules: problems found while loading and resolving a spec.

These have no check function: `compiler.load` and `compiler.resolve` emit them.
They are registered here so that `explain` and docs/rules.md cover every code.
"""

from __future__ import annotations

from compiler.findings import Severity
from compiler.rules import Rule, register

_GOOD = """\
name: llama-2-7b-fp8
model: {name: llama-2-7b}
quantization: {format: fp8, calibration: {dataset: cnn_dailymail}}
target: {gpu: H100-SXM, tensorrt_llm: "0.16.0"}
"""


def _shape(code: str, name: str, summary: str, why: str, bad: str, hint: str) -> None:
    register(Rule(code, name, Severity.ERROR, summary, why, bad, _GOOD, hint, stage="load"))


_shape("S100", "spec-file-unreadable", "The spec file does not exist or cannot be read.",
       "Nothing can be checked without the file.", "# trtdeploy check specs/missing.yaml", "check the path")
_shape("S101", "yaml-syntax-error", "The file is not valid YAML, not UTF-8 text, or uses a YAML tag.",
       "A spec is plain YAML: text, numbers, true/false, null, mappings and lists. Tags such as !!python/object "
       "could make a loader run code, and !!binary, !!timestamp or !!set make values that no report or plan can "
       "hold, so every tag beyond those plain types is refused.",
       "model: {name: llama-2-7b\n", "fix the YAML at the reported line")
_shape("S102", "spec-not-a-mapping", "The document is empty, is not a mapping of keys, or has no spec key at all.",
       "A spec is a mapping of sections (model, quantization, ...). A file with none of them is some other file; "
       "it is refused without quoting its keys, so that pointing trtdeploy at a secret does not print it.",
       "- llama-2-7b\n", "start from one of specs/*.yaml")
_shape("S103", "extends-unreadable", "`extends:` does not name a readable spec.",
       "The base's keys are part of this spec; a missing base leaves it undefined.", "extends: ./no-such-base.yaml\n",
       "the path is taken from the folder of the spec that says `extends`")
_shape("S104", "extends-cycle", "`extends:` chains loop back to a spec already in the chain.",
       "A cycle has no base to start from.", "# a.yaml\nextends: b.yaml\n# b.yaml\nextends: a.yaml\n",
       "make the base spec not extend this one")
_shape("S105", "duplicate-key", "A mapping has the same key twice.",
       "YAML keeps the last silently, so the spec would not say what it seems to say.",
       "parallelism:\n  tp: 2\n  tp: 4\n", "remove one of the two")
_shape("S106", "document-too-large", "The document is too big, too deep, or expands too far through aliases.",
       "Alias bombs ('billion laughs') make a small file expand to gigabytes; trtdeploy refuses them early.",
       "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n# ... nested further\n",
       "write the spec out plainly")
_shape("S107", "unknown-key", "A key is not part of the spec language.",
       "A misspelt key would otherwise be ignored and its default used instead.",
       "limits:\n  max_batch: 8\n", "use the key suggested, or see docs/spec.md")
_shape("S108", "invalid-value", "A value has the wrong type, is not one of the allowed values, or reads "
       "differently in YAML 1.1 than it looks.",
       "Checking types and ranges up front avoids an argparse error after hours of quantization. YAML 1.1 reads "
       "`tp: 010` as 8 (octal), `1:30` as 90 (base 60) and `2024-01-01` as a date, so these are refused rather "
       "than guessed.",
       "quantization:\n  format: int4-awq\nparallelism:\n  tp: 010\n",
       "use one of the allowed values listed in the message; write numbers without leading zeros, or quote text")
_shape("S109", "model-missing", "The spec names no model.",
       "The architecture decides divisibility, memory and the convert script.", "target: {gpu: A10}\n",
       "add model.name (see `trtdeploy models`) or model.path")
_shape("S110", "unknown-model", "model.name is not in the catalog.",
       "Without the architecture nothing can be checked; give model.path to read config.json instead.",
       "model: {name: llama-2-7}\n", "use a name from `trtdeploy models`, or model.path")
_shape("S111", "model-config-unusable", "model.path has no readable or supported config.json.",
       "config.json is the source of the architecture facts when the model is given by path.",
       "model: {path: /models/empty-folder}\n", "point model.path at a Hugging Face model folder")
_shape("S112", "gpu-missing", "The spec names no target GPU.",
       "Precision support and memory fit depend on the GPU.", "model: {name: llama-2-7b}\n", "add target.gpu")
_shape("S113", "unknown-gpu", "target.gpu (or build.gpu) is not in the catalog.",
       "Compute capability, memory and interconnect come from the catalog.", "target: {gpu: H1OO}\n",
       "use a name from `trtdeploy gpus`")
_shape("S114", "unknown-release", "target.tensorrt_llm is not a version, or is older than the oldest release known.",
       "Flags, defaults and the support matrix are facts per exact release (`trtdeploy releases`); before 0.8.0 "
       "there are none to check against.",
       "target: {tensorrt_llm: '0.7.1'}\n", "use a release from `trtdeploy releases`")
_shape("S115", "outside-repository", "A spec, or a base named by `extends:`, lies outside the repository that "
       "holds the spec.",
       "In CI every spec and file name comes from the pull request: `extends: /etc/shadow` or a spec that is a "
       "link to a runner's file would make `check` read that file and quote it into logs and comments. The "
       "repository is the git work tree holding the spec (the nearest folder above it with a `.git`); outside "
       "git, the spec's own folder and the folders under it. Symlinks are followed before the check.",
       "extends: ../../../etc/shadow\n", "extend a spec inside the same repository, or copy the base into it")
register(Rule("S116", "release-not-listed", Severity.WARNING,
              "target.tensorrt_llm is a well-formed version that the release table does not list.",
              "A release between two listed ones takes the facts of the range that holds it; one newer than the "
              "newest listed takes the newest release's facts. Flags may have changed in either case, so the "
              "commands are planned but should be checked against that release's --help.",
              "target: {tensorrt_llm: '9.0.0'}\n", _GOOD,
              "pin a release that `trtdeploy releases` lists, or check the commands by hand", stage="load"))
