"""GPU architectures on the engine path per release (architectures.yaml): listed, community-only, removed or not yet.

`architecture_for_sm(sm)` names the architecture of a compute capability; `support(arch, version)`
is what that release's support matrix and release notes say of it: its status and the
precisions listed. This is the successor of support.yaml's `architectures:`; the planner still
reads support.yaml until it is switched over.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from compiler.catalog.ranges import (
    CatalogFactsError,
    RangedFact,
    load_yaml,
    pick,
    ranged_rows,
    source_texts,
)
from compiler.versions import Version

FILE = "architectures.yaml"


class ArchStatus(str, enum.Enum):
    LISTED = "listed"
    LISTED_EXPERIMENTAL = "listed_experimental"
    COMMUNITY_ONLY = "community_only"  # not in the release's support matrix: community support only
    REMOVED = "removed"                # support removed by a release note
    NOT_YET = "not_yet"                # no release before this supports it

    @property
    def supported(self) -> bool:
        """True when NVIDIA develops and tests the release on the architecture."""
        return self in (ArchStatus.LISTED, ArchStatus.LISTED_EXPERIMENTAL)


@dataclass(frozen=True)
class ArchSupport:
    """What one release says of one architecture."""

    architecture: str
    status: ArchStatus
    precisions: tuple[str, ...]
    fact: RangedFact


@dataclass(frozen=True)
class Architecture:
    name: str
    sms: tuple[int, ...]
    rows: tuple[RangedFact, ...]


@functools.cache
def architectures() -> Mapping[str, Architecture]:
    """Every architecture of architectures.yaml by name (loaded once)."""
    data = load_yaml(FILE)
    sources = source_texts(FILE, data.get("sources") or {})
    result = {}
    for name, row in (data.get("architectures") or {}).items():
        rows = ranged_rows(FILE, str(name), row["tensorrt"], sources)
        for fact in rows:
            ArchStatus(fact.value["status"])  # an unknown status fails at load
        result[str(name)] = Architecture(str(name), tuple(int(sm) for sm in row["sm"]), rows)
    return result


def architecture_for_sm(sm: int) -> str:
    """The architecture a compute capability belongs to (87 -> ampere, 120 -> blackwell).

    Raises:
        CatalogFactsError: a compute capability no row names.
    """
    for arch in architectures().values():
        if sm in arch.sms:
            return arch.name
    raise CatalogFactsError(f"{FILE}: no architecture has SM{sm}")


def support(architecture: str, version: Version) -> ArchSupport:
    """What release `version` says of `architecture` (not_yet before its first row)."""
    arch = architectures()[architecture]
    row = pick(arch.rows, version)
    if row is None:
        raise CatalogFactsError(f"{FILE}: {architecture}: no row covers {version}")
    return ArchSupport(architecture, ArchStatus(row.value["status"]), tuple(row.value.get("precisions") or ()), row)
