"""Fetches the Arm CMSIS sources the benchmark's peer implementation is built from (no registry of
PlatformIO's, no GitHub here): CMSIS-DSP 1.10 C sources from the source distribution of the Python
package `cmsisdsp` (the package index's simple API, checked by its sha256), and the CMSIS-Core
headers from the npm registry (`@xpack-3rd-party/arm-cmsis-core-m`, fetched over HTTPS: no npm client
needed). Both are checked by the checksums their registries publish. Unpacks into .cache/cmsis/.
Idempotent.

    python tools/fetch_cmsis.py            -> prints the directory
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / ".cache" / "cmsis"
DSP_VERSION = "1.10.3"
INDEX = "https://pypi.org/simple/cmsisdsp/"
CORE_NPM = ("@xpack-3rd-party%2farm-cmsis-core-m", "5.4.0-5")
NPM_REGISTRY = "https://registry.npmjs.org/"


def fetch_dsp(work: Path) -> Path:
    page = urllib.request.urlopen(INDEX, timeout=60).read().decode()
    m = re.search(rf'href="([^"]*cmsisdsp-{re.escape(DSP_VERSION)}\.tar\.gz)#sha256=([0-9a-f]+)"', page)
    if not m:
        raise SystemExit(f"error: cmsisdsp {DSP_VERSION} sdist not listed at {INDEX}")
    data = urllib.request.urlopen(m.group(1), timeout=300).read()
    if hashlib.sha256(data).hexdigest() != m.group(2):
        raise SystemExit("error: cmsisdsp sdist checksum mismatch")
    path = work / "cmsisdsp.tar.gz"
    path.write_bytes(data)
    return path


# Python >= 3.11.4 can refuse unsafe archive members; Debian 12's 3.11.2 has no filter argument.
SAFE = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def fetch_core(work: Path) -> Path:
    import json
    name, version = CORE_NPM
    meta = json.load(urllib.request.urlopen(NPM_REGISTRY + name, timeout=60))
    dist = meta["versions"][version]["dist"]
    data = urllib.request.urlopen(dist["tarball"], timeout=300).read()
    if hashlib.sha1(data).hexdigest() != dist["shasum"]:
        raise SystemExit("error: arm-cmsis-core-m tarball checksum mismatch")
    path = work / "core.tgz"
    path.write_bytes(data)
    return path


def main() -> int:
    dsp, core = OUT / "CMSIS-DSP", OUT / "CMSIS-Core"
    if (dsp / "Include" / "arm_math.h").exists() and (core / "Include" / "cmsis_gcc.h").exists():
        print(OUT)
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("cmsis: fetching CMSIS-DSP sources (cmsisdsp sdist) and CMSIS-Core headers (npm registry)", file=sys.stderr)
        with tarfile.open(fetch_dsp(work)) as t:
            t.extractall(work / "dsp", **SAFE)
        top = next((work / "dsp").iterdir())
        src = top / "CMSIS" / "DSP" if (top / "CMSIS" / "DSP").exists() else top
        (dsp).mkdir(exist_ok=True)
        for sub in ("Include", "PrivateInclude", "Source"):
            found = next((p for p in src.rglob(sub) if p.is_dir() and (p / "..").resolve() != work), None)
            if found is None:
                raise SystemExit(f"error: no {sub}/ in the cmsisdsp sdist")
            subprocess.run(["cp", "-r", str(found), str(dsp / sub)], check=True)
        tgz = fetch_core(work)
        with tarfile.open(tgz) as t:
            t.extractall(work / "core", **SAFE)
        inc = next(p for p in (work / "core").rglob("Include") if (p / "cmsis_gcc.h").exists())
        core.mkdir(exist_ok=True)
        subprocess.run(["cp", "-r", str(inc), str(core / "Include")], check=True)
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
