"""Where TensorRT-LLM's example scripts live on the build host, per release line and model family.

The default is the release container's layout (/app/tensorrt_llm/examples); the
spec's target.examples_dir replaces it, and $TRTDEPLOY_EXAMPLES_DIR replaces both
when a script runs. The llama example moved to examples/models/core/ in 1.x
(reference §0 (c), §7); qwen moved beside it, the other families to models/contrib/.
"""

from __future__ import annotations

import posixpath

from compiler.plan.features import has
from compiler.plan.model import EXAMPLES_DIR, Var
from compiler.resolve import Resolved
from compiler.versions import Release

CONTAINER_EXAMPLES_DIR = "/app/tensorrt_llm/examples"
# Families whose example folder is models/core/<family>/ in 1.x; the rest are in models/contrib/.
CORE_FAMILIES = frozenset({"llama", "qwen"})
# The family whose convert_checkpoint.py flags the reference tables document (§1.3).
VERIFIED_FAMILY = "llama"

QUANTIZE_SCRIPT = Var(EXAMPLES_DIR, "/quantization/quantize.py")
RUN_SCRIPT = Var(EXAMPLES_DIR, "/run.py")


def examples_dir(r: Resolved) -> str:
    """The examples folder scripts default to. A relative path is taken from the build folder.

    A relative path gets a leading './' so that a name starting with '-' never reads as an option.
    """
    written = r.spec.target.examples_dir
    if written is None:
        return CONTAINER_EXAMPLES_DIR
    return written if posixpath.isabs(written) else posixpath.join(".", written)


def family_folder(family: str, release: Release) -> str:
    """The model family's example folder under examples/, e.g. 'llama' or 'models/core/llama'."""
    if not has(release, "models_core_layout"):
        return family
    group = "core" if family in CORE_FAMILIES else "contrib"
    return f"models/{group}/{family}"


def convert_script(r: Resolved) -> Var:
    return Var(EXAMPLES_DIR, f"/{family_folder(r.model.family, r.release)}/convert_checkpoint.py")
