"""The stand-ins' argv check: the package's tool surfaces (compiler/catalog/tools/*.yaml) for one exact release.

The release is TRTDEPLOY_STANDIN_VERSION (an exact version such as 0.10.0 or 1.2.0rc6;
default: the newest release known). A version the catalog does not list resolves as the
planner resolves it (compiler.catalog.releases.release_facts): newer than the newest known
uses the newest known release's flags. The stand-ins run under the test virtualenv's python3,
so they import the installed `compiler` package.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from compiler.catalog.releases import ReleaseNotSupported, newest_release, release_facts
from compiler.catalog.tools import Surface, ToolFactsError, surface
from compiler.versions import Version

VERSION_ENV = "TRTDEPLOY_STANDIN_VERSION"
Args = dict[str, list[str]]


def standin_version() -> Version:
    """The release the stand-ins play.

    Raises:
        ReleaseNotSupported: TRTDEPLOY_STANDIN_VERSION is not a version or older than 0.8.0.
    """
    text = os.environ.get(VERSION_ENV)
    if not text:
        return newest_release().version
    return release_facts(text).facts_version


def parse(facts: Surface, argv: Sequence[str]) -> Args:
    """flag -> values as the tool reads them (a switch maps to []; aliases to the flag's own name)."""
    given: Args = {}
    i = 0
    while i < len(argv):
        name, eq, inline = argv[i].partition("=")
        i += 1
        fact = facts.fact(name)
        if fact is None:
            continue
        values = given.setdefault(fact.name, [])
        if not fact.takes_value:
            continue
        if eq:
            values.append(inline)
            continue
        while i < len(argv) and not (argv[i].startswith("--") or argv[i].partition("=")[0] in facts.flags):
            values.append(argv[i])
            i += 1
            if not fact.multiple:
                break
    return given


def check_argv(tool: str, argv: Sequence[str]) -> tuple[Args, list[str], Version | None]:
    """Parse and check a tool's argv (program name excluded) for the stand-in's release.

    Returns:
        (flag -> values given, problems, the release checked against; None when it could not be resolved).
    """
    try:
        version = standin_version()
        facts = surface(tool, version)
    except (ReleaseNotSupported, ToolFactsError) as exc:
        return {}, [f"{VERSION_ENV}={os.environ.get(VERSION_ENV)!r}: {exc}"], None
    return parse(facts, argv), facts.check(argv), version
