"""Give a learner a fresh copy of the course's lessons/ without ever overwriting what the learner wrote.

Usage::

    python tools/hub/sync_lessons.py LEARNER_HOME/lessons [--upstream lessons]

The hub runs it before each learner's server starts (tools/hub/jupyterhub_config.py). The rules are nbgitpuller's
(https://nbgitpuller.readthedocs.io, "Merging behaviour"), on whole files and without git: the learner's folder
keeps a manifest, ``.nnlib-sync.json``, of the upstream content (sha256) it last received, and for each file

=============================================  ================================================================
the learner's copy                             what a sync does
=============================================  ================================================================
missing, never received                        **add** the upstream file
missing, received before (the learner deleted  **restore** it: deleting a file is how a learner asks for a fresh
it)                                            copy
the same as upstream                           nothing
unchanged since received, upstream changed     **update** it to upstream
changed by the learner                         **keep** it (the learner's edits win, whatever upstream did)
the learner's own file, never received, at a   **rename** the learner's file to ``name_YYYYmmddHHMMSS.ext`` and
name upstream now uses                         add the upstream file
received, unchanged, now gone upstream         **remove** it (a learner-changed one is kept)
=============================================  ================================================================

A learner's file is therefore never overwritten nor deleted: it is kept, or kept under a new name.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = ".nnlib-sync.json"
ROOT = Path(__file__).resolve().parents[2]
ACTIONS = ("add", "restore", "update", "keep", "rename", "remove")


@dataclass
class SyncPlan:
    """What one sync does, file by file (paths relative to the lessons folder, POSIX style)."""

    add: list[str] = field(default_factory=list)
    restore: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    rename: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    manifest: dict[str, str] = field(default_factory=dict)  # what the learner has received after this sync

    def summary(self) -> str:
        return ", ".join(f"{len(getattr(self, action))} {action}" for action in ACTIONS)


def plan_sync(upstream: dict[str, str], local: dict[str, str], received: dict[str, str]) -> SyncPlan:
    """The sync's decisions from three {path: sha256} maps: upstream now, the learner's folder, the manifest.

    Pure: the rules of the module's table, nothing read or written.
    """
    plan = SyncPlan()
    for path, digest in sorted(upstream.items()):
        mine, before = local.get(path), received.get(path)
        if mine is None:
            (plan.restore if before is not None else plan.add).append(path)
        elif mine == digest:
            pass
        elif before is None:
            plan.rename.append(path)
        elif mine == before:
            plan.update.append(path)
        else:
            plan.keep.append(path)
            plan.manifest[path] = before  # still "changed by the learner" at the next sync
            continue
        plan.manifest[path] = digest
    for path, before in sorted(received.items()):
        if path not in upstream and local.get(path) == before:
            plan.remove.append(path)
    return plan


def digests(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``folder``, hidden files and folders left out."""
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            found[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def renamed(path: Path, now: datetime.datetime) -> Path:
    """Where a learner's file that stands in upstream's way goes: ``name_YYYYmmddHHMMSS.ext``, never an existing one."""
    stamp = now.strftime("%Y%m%d%H%M%S")
    candidate, n = path.with_name(f"{path.stem}_{stamp}{path.suffix}"), 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}_{stamp}_{n}{path.suffix}")
    return candidate


def _copy(source: Path, target: Path) -> None:
    """Copy atomically: a crash mid-copy never leaves a half-written lesson."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)


def read_manifest(folder: Path) -> dict[str, str]:
    """The manifest's {path: sha256}; {} when missing or unreadable (then every differing file counts as the
    learner's own and is renamed, never overwritten)."""
    try:
        received = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return received if isinstance(received, dict) else {}


def sync(upstream: Path, folder: Path, now: datetime.datetime | None = None) -> SyncPlan:
    """Bring ``folder`` (a learner's lessons) up to date with ``upstream`` by the module's rules; the plan done."""
    if not upstream.is_dir():
        raise FileNotFoundError(f"sync_lessons: the upstream lessons folder {upstream} does not exist: run "
                                "`make notebooks` (or pass --upstream)")
    plan = plan_sync(digests(upstream), digests(folder), read_manifest(folder))
    now = now or datetime.datetime.now()
    for path in plan.rename:
        os.replace(folder / path, renamed(folder / path, now))
    for path in plan.add + plan.restore + plan.update + plan.rename:
        _copy(upstream / path, folder / path)
    for path in plan.remove:
        (folder / path).unlink()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(json.dumps(plan.manifest, indent=1, sort_keys=True), encoding="utf-8")
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the learner's lessons folder (created if missing)")
    parser.add_argument("--upstream", type=Path, default=ROOT / "lessons", help="the course's lessons folder")
    args = parser.parse_args(argv)
    try:
        plan = sync(args.upstream, args.folder)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{args.folder}: {plan.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
