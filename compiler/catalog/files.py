"""Reading the catalog's YAML files, with a cache of their parsed form that every run can reuse.

Each trtdeploy process reads a dozen catalog files (tool tables, releases, formats); libyaml
takes ~130 ms for all of them, a third of a `check` of one spec. The parsed data is kept as JSON
(json.loads of the same data takes ~3 ms) under the user's cache folder, named by the SHA-256
of the YAML bytes, so an edited catalog file is simply another entry. JSON, not pickle: a cache
file is read as data and can never run code. Data whose JSON round trip would change it (a
non-text key, a date) is not cached. Nothing here is required: an unreadable or unwritable
cache folder only means parsing the YAML.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

CACHE_ENV = "TRTDEPLOY_CACHE_DIR"
# Part of every entry's name: a change to how entries are written makes the old ones unused.
CACHE_FORMAT = "1"


def cache_dir() -> Path:
    """$TRTDEPLOY_CACHE_DIR, else $XDG_CACHE_HOME/trtdeploy, else ~/.cache/trtdeploy."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "trtdeploy"


def read_catalog_yaml(path: Path) -> Any:
    """The parsed content of one catalog YAML file (safe loader).

    Raises:
        OSError: the file cannot be read.
        yaml.YAMLError: it is not valid YAML.
    """
    raw = path.read_bytes()
    entry = cache_dir() / f"catalog-{CACHE_FORMAT}-{hashlib.sha256(raw).hexdigest()[:32]}.json"
    try:
        return json.loads(entry.read_bytes())
    except (OSError, ValueError):
        pass
    data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    _store(entry, data)
    return data


def _store(entry: Path, data: Any) -> None:
    """Write the entry atomically (a concurrent reader sees all of it or none), if JSON keeps the data as it is."""
    try:
        text = json.dumps(data, separators=(",", ":"))
    except (TypeError, ValueError):
        return
    if json.loads(text) != data:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".catalog-", dir=entry.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, entry)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass
