"""Helpers of scripts/device_wheels.sh (standard library only).

    python scripts/device_wheels.py stub REPORT OUT_DIR        a metadata-only wheel standing for the image's torch
    python scripts/device_wheels.py missing IMAGE_REPORT CHECK_REPORT LOCK
                                                             the check's distributions the image lacks -> LOCK
    python scripts/device_wheels.py show LOCK [WHEELS]         the lock as a table, with sizes when downloaded
    python scripts/device_wheels.py pack WHEELS BUNDLE         the wheels, stored uncompressed, in one .tar.xz

REPORT files are ``pip install --dry-run --report`` output. The image's torch is a multi-GB CUDA build whose
CUDA libraries need not (and some no longer can) be resolved here; the stub carries torch's version and its
non-CUDA requirements, read from the real wheel's metadata, so pip resolves everything else exactly as it would
beside the real torch, and a clean venv can hold "the image's packages" without the CUDA build.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zipfile
from pathlib import Path

STUB_LOCAL = "image"  # torch==X+image: the stub, never a real build
_CUDA_PREFIXES = ("nvidia-", "cuda-", "triton")


def _installs(report: Path) -> list[dict]:  # type: ignore[type-arg]
    return list(json.loads(report.read_text())["install"])


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def stub(report: Path, out_dir: Path) -> Path:
    """Write ``torch-VERSION+image-py3-none-any.whl``: torch's metadata minus its CUDA requirements, no code."""
    [torch] = [i for i in _installs(report) if _norm(i["metadata"]["name"]) == "torch"]
    version = f"{torch['metadata']['version']}+{STUB_LOCAL}"
    requires = [
        r
        for r in torch["metadata"].get("requires_dist") or []
        if not _norm(r).startswith(_CUDA_PREFIXES) and "extra ==" not in r
    ]
    info = f"torch-{version}.dist-info"
    files = {
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: torch\nVersion: "
        + version
        + "\nSummary: metadata-only stand-in for the GPU image's torch (rlaif scripts/device_wheels.py)\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: rlaif-device-wheels\nRoot-Is-Purelib: true\n"
        + "Tag: py3-none-any\n",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"torch-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(path, "w") as whl:
        for name, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
            whl.writestr(name, data)
        whl.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return path


def missing(image_report: Path, check_report: Path, lock: Path) -> None:
    """Every distribution of the check's resolution that the image's resolution lacks (name, version, file,
    size, sha256, url), one per line, sorted: the wheels to carry."""
    have = {_norm(i["metadata"]["name"]) for i in _installs(image_report)}
    rows = []
    for item in _installs(check_report):
        name = _norm(item["metadata"]["name"])
        if name in have:
            continue
        info = item["download_info"]
        url = info["url"]
        sha = (info.get("archive_info") or {}).get("hashes", {}).get("sha256", "")
        rows.append(f"{name}=={item['metadata']['version']} {url.rsplit('/', 1)[-1]} sha256={sha} {url}")
    lock.write_text(
        "# Wheels scripts/device_check.sh installs on the GPU image (written by scripts/device_wheels.sh).\n"
        + "\n".join(sorted(rows))
        + "\n"
    )


def show(lock: Path, wheels: Path | None = None) -> None:
    """The lock's wheels, with their sizes when they have been downloaded into ``wheels``."""
    total = 0
    for line in lock.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        pin, filename = line.split()[:2]
        size = (wheels / filename).stat().st_size if wheels and (wheels / filename).is_file() else None
        total += size or 0
        print(f"  {pin:<40} {filename:<70} {'?' if size is None else f'{size / 2**20:6.2f} MiB'}")
    if wheels:
        print(f"  total {total / 2**20:.2f} MiB")


def pack(wheels: Path, bundle: Path) -> None:
    """Every wheel in ``wheels`` re-zipped without compression (same members, same RECORD: still a valid wheel,
    installed the same), all in one xz tarball: xz over the raw files packs a third tighter than the wheels'
    own deflate."""
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, tarfile.open(bundle, "w:xz", preset=9) as tar:
        for wheel in sorted(wheels.glob("*.whl")):
            stored = Path(tmp) / wheel.name
            with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as dst:
                for info in src.infolist():
                    data = src.read(info)
                    info.compress_type = zipfile.ZIP_STORED
                    dst.writestr(info, data)
            tar.add(stored, arcname=wheel.name)
            stored.unlink()


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "stub":
        print(stub(Path(args[0]), Path(args[1])))
    elif command == "missing":
        missing(Path(args[0]), Path(args[1]), Path(args[2]))
    elif command == "pack":
        pack(Path(args[0]), Path(args[1]))
    elif command == "show":
        show(Path(args[0]), Path(args[1]) if len(args) > 1 else None)
    else:
        raise SystemExit(f"unknown command {command!r}: stub | missing | show")


if __name__ == "__main__":
    main(sys.argv[1:])
