"""The lock files (lock/*.txt): every package each install of the project needs, at an exact version
with its sha256, so that every machine installs the same thing (`make run`, `make venv`, `make package`).

    python scripts/lock.py            # refresh: resolve pyproject.toml's ranges anew, rewrite lock/*.txt (`make lock`)
    python scripts/lock.py --check    # say what disagrees between pyproject.toml and the locks (exit 1 if anything)
    python scripts/lock.py --platform # exit 1, saying why, where this interpreter is not the locks' platform

The locks are made for one platform, Linux x86_64 with CPython 3.11 (the project's machines and CI):
pyproject's platform markers (onnxruntime-gpu or onnxruntime) and the wheels are resolved for it.
A refresh takes the newest releases pyproject.toml admits, with pip alone (`pip install --dry-run
--ignore-installed --report`): once for all the extras together, so that the locks agree with each
other, then once per lock, constrained to those versions. pyproject.toml keeps ranges, for people who
install the package into an environment of their own. Each lock records the sha256 of pyproject's
requirements it was made from; tests/test_lock.py fails when they disagree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK_DIR = ROOT / "lock"

# The one platform the locks are for, as PEP 508 marker values.
TARGET = {"platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
          "python_version": "3.11", "sys_platform": "linux", "os_name": "posix",
          "platform_python_implementation": "CPython", "python_full_version": "3.11.0"}
TARGET_TEXT = "Linux x86_64, CPython 3.11"


@dataclass(frozen=True)
class Lock:
    """One lock file: which extras of pyproject.toml it installs, for which make targets."""

    name: str
    extras: tuple[str, ...]
    used_by: str
    # Pinned with its hash but installed without its own dependencies (see pyproject's bench extra).
    no_deps: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return LOCK_DIR / f"{self.name}.txt"


LOCKS = (
    Lock("base", (), "make run (the viewer)"),
    Lock("dev", ("ml", "dev"), "make venv, make test (training, tests)"),
    Lock("package", ("package",), "make package (the PyInstaller bundle)"),
    # grad-cam requires opencv-python, which would shadow opencv-python-headless: pinned, no deps.
    Lock("bench", ("ml", "dev", "bench"), "make bench-venv (bench/maps.py's peers)", no_deps=("grad-cam",)),
)


def pyproject_requirements(pyproject: Path = PYPROJECT) -> dict:
    """requires-python, the base dependencies and every extra, as pyproject.toml states them."""
    import tomllib  # Python 3.11+, the locks' own; `--platform` must also answer on other Pythons

    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return {"requires-python": project.get("requires-python", ""),
            "dependencies": list(project.get("dependencies", [])),
            "optional-dependencies": {k: list(v) for k, v in sorted(project.get("optional-dependencies", {}).items())}}


def requirements_digest(pyproject: Path = PYPROJECT) -> str:
    """sha256 of pyproject's requirements only: editing its tool settings or version leaves the locks valid."""
    text = json.dumps(pyproject_requirements(pyproject), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def lock_requirements(lock: Lock, pyproject: Path = PYPROJECT) -> list[str]:
    reqs = pyproject_requirements(pyproject)
    return reqs["dependencies"] + [r for extra in lock.extras for r in reqs["optional-dependencies"][extra]]


# -- the platform ------------------------------------------------------------------------------------
def platform_problem() -> str | None:
    here = (platform.system(), platform.machine(), sys.implementation.name, f"{sys.version_info[0]}.{sys.version_info[1]}")
    wanted = (TARGET["platform_system"], TARGET["platform_machine"], TARGET["implementation_name"], TARGET["python_version"])
    if here == wanted:
        return None
    return (f"the locks (lock/*.txt) are made for {TARGET_TEXT}; this is {here[0]} {here[1]}, "
            f"{platform.python_implementation()} {here[3]} ({sys.executable})")


# -- refreshing --------------------------------------------------------------------------------------
def pip_report(requirements: list[str], constraints: list[str] = (), no_deps: bool = False) -> list[dict]:
    """What pip would install for `requirements` into an empty environment: its report's `install` list."""
    with tempfile.TemporaryDirectory() as tmp:
        req_file, report = Path(tmp) / "requirements.txt", Path(tmp) / "report.json"
        req_file.write_text("\n".join(requirements) + "\n")
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                   "--disable-pip-version-check", "--report", str(report), "-r", str(req_file)]
        if constraints:
            (Path(tmp) / "constraints.txt").write_text("\n".join(constraints) + "\n")
            command += ["-c", str(Path(tmp) / "constraints.txt")]
        if no_deps:
            command.append("--no-deps")
        subprocess.run(command, check=True)
        return json.loads(report.read_text())["install"]


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def sha256_of(item: dict) -> str:
    """The artifact's sha256 as the index gave it; for a local file, checked against the file's bytes."""
    info = item["download_info"]
    hashes = info.get("archive_info", {}).get("hashes", {})
    url = info["url"]
    local = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)) if url.startswith("file:") else None
    actual = None
    if local is not None:
        digest = hashlib.sha256()
        with open(local, "rb") as f:
            while block := f.read(1 << 22):
                digest.update(block)
        actual = digest.hexdigest()
    if "sha256" not in hashes and actual is None:
        raise SystemExit(f"lock: the index gives no sha256 for {url}")
    if actual is not None and hashes.get("sha256", actual) != actual:
        raise SystemExit(f"lock: {local} does not have the sha256 its index states")
    return hashes.get("sha256", actual)


def pins(items: list[dict]) -> dict[str, tuple[str, str, str]]:
    """{canonical name: (name, version, sha256)} of a pip report's install list."""
    return {canonical(i["metadata"]["name"]): (i["metadata"]["name"], i["metadata"]["version"], sha256_of(i))
            for i in items}


def render(lock: Lock, pinned: dict[str, tuple[str, str, str]], digest: str) -> str:
    extras = " + ".join(("base",) + lock.extras)
    lines = [f"# cxrviewer lock: {extras}{''.join(f' + {n} (no deps)' for n in lock.no_deps)}; for {lock.used_by}.",
             "# Generated by `make lock` (scripts/lock.py) from pyproject.toml's ranges; do not edit by hand.",
             f"# Platform: {TARGET_TEXT} only (its markers and wheels); elsewhere see README's Quick start.",
             "# Installed with: pip install --require-hashes --no-deps -r THIS, then pip install --no-deps -e .",
             f"# extras: {' '.join(lock.extras) or '-'}",
             f"# no-deps: {' '.join(lock.no_deps) or '-'}",
             f"# pyproject-requirements-sha256: {digest}",
             f"# packages: {len(pinned)}", ""]
    for key in sorted(pinned):
        name, version, sha = pinned[key]
        lines += [f"{name}=={version} \\", f"    --hash=sha256:{sha}"]
    return "\n".join(lines) + "\n"


def refresh() -> None:
    if problem := platform_problem():
        raise SystemExit(f"lock: {problem}; refresh them there")
    digest = requirements_digest()
    everything = [r for lock in LOCKS for r in lock_requirements(lock)]
    every_extra = pins(pip_report(sorted(set(everything))))
    constraints = [f"{name}=={version}" for name, version, _ in every_extra.values()]
    LOCK_DIR.mkdir(exist_ok=True)
    for lock in LOCKS:
        pinned = pins(pip_report(lock_requirements(lock), constraints))
        if lock.no_deps:
            pinned |= pins(pip_report(list(lock.no_deps), no_deps=True))
        lock.path.write_text(render(lock, pinned, digest))
        print(f"wrote {lock.path.relative_to(ROOT)}: {len(pinned)} packages")


# -- checking ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...]


def read_lock(path: Path) -> tuple[dict[str, str], dict[str, Pin]]:
    """(header fields, {canonical name: pin}) of a lock file."""
    header, pinned = {}, {}
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                header[key.strip()] = value.strip()
        elif line:
            requirement, *options = line.split()
            name, sep, version = requirement.partition("==")
            hashes = tuple(o.removeprefix("--hash=") for o in options if o.startswith("--hash="))
            pinned[canonical(name)] = Pin(name, version if sep else "", hashes)
    return header, pinned


def problems(pyproject: Path = PYPROJECT, lock_dir: Path = LOCK_DIR) -> list[str]:
    """Every disagreement between pyproject.toml and the lock files, as sentences; [] when they agree."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    found, digest, versions = [], requirements_digest(pyproject), {}
    for lock in LOCKS:
        path = lock_dir / lock.path.name
        if not path.is_file():
            found.append(f"{path.name}: missing (run `make lock`)")
            continue
        header, pinned = read_lock(path)
        if header.get("pyproject-requirements-sha256") != digest:
            found.append(f"{path.name}: made from other pyproject.toml requirements (run `make lock`)")
        if header.get("extras", "-").split() != (list(lock.extras) or ["-"]):
            found.append(f"{path.name}: locks extras {header.get('extras')}, not {' '.join(lock.extras) or '-'}")
        for key, pin in pinned.items():
            if not pin.version or not pin.hashes or not all(h.startswith("sha256:") for h in pin.hashes):
                found.append(f"{path.name}: {pin.name} is not pinned to one version with sha256 hashes")
            versions.setdefault(key, {})[path.name] = pin.version
        for text in lock_requirements(lock, pyproject) + list(lock.no_deps):
            requirement = Requirement(text)
            extras = [""] + list(lock.extras)
            if requirement.marker and not any(requirement.marker.evaluate(TARGET | {"extra": e}) for e in extras):
                continue
            pin = pinned.get(canonical(requirement.name))
            if pin is None:
                found.append(f"{path.name}: {text!r} is not pinned")
            elif not requirement.specifier.contains(Version(pin.version), prereleases=True):
                found.append(f"{path.name}: {pin.name}=={pin.version} is outside {text!r}")
    for key, by_file in versions.items():
        if len(set(by_file.values())) > 1:
            found.append(f"{key} differs between the locks: {by_file}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare pyproject.toml with the locks")
    parser.add_argument("--platform", action="store_true", help="fail unless this is the locks' platform")
    args = parser.parse_args()
    if args.platform:
        if problem := platform_problem():
            print(f"lock: {problem}", file=sys.stderr)
            raise SystemExit(1)
    elif args.check:
        found = problems()
        for line in found:
            print(f"lock: {line}", file=sys.stderr)
        raise SystemExit(1 if found else 0)
    else:
        refresh()


if __name__ == "__main__":
    main()
