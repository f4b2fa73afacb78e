"""Generate the Python protobuf/gRPC code from proto/ into gen/python when the .proto inputs changed.

Generated code is not committed (DESIGN.md). Every entry point (make, services, gateway, cli, tests) calls
:func:`ensure_generated` first; it compares a hash of every .proto file with the stamp written by the last
generation and regenerates from scratch (delete, then generate) only when they differ, so it is cheap when fresh.
The output root mirrors the proto path (gen/python/dynasty/<svc>/v1/...) so protoc's absolute imports resolve;
`dynasty` stays an implicit namespace package.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "proto"
GEN_ROOT = REPO_ROOT / "gen" / "python"
STAMP = GEN_ROOT / ".proto-hash"


def _proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def proto_hash() -> str:
    digest = hashlib.sha256()
    for path in _proto_files():
        digest.update(str(path.relative_to(PROTO_ROOT)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def is_stale() -> bool:
    return not STAMP.exists() or STAMP.read_text().strip() != proto_hash()


def generate() -> None:
    """Regenerate into a temporary root, then swap it in, so a concurrent reader never sees half a tree."""
    import grpc_tools
    from grpc_tools import protoc  # imported here: only generation needs grpcio-tools loaded

    wkt_include = Path(grpc_tools.__file__).parent / "_proto"
    GEN_ROOT.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="python-", dir=GEN_ROOT.parent))
    files = [str(p.relative_to(PROTO_ROOT)) for p in _proto_files()]
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{wkt_include}",
        f"--python_out={staging}",
        f"--pyi_out={staging}",
        f"--grpc_python_out={staging}",
        *files,
    ]
    if protoc.main(args) != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError("protoc failed; see the messages above")
    (staging / ".proto-hash").write_text(proto_hash() + "\n")
    backup = GEN_ROOT.with_name(f"python-old-{os.getpid()}")
    if GEN_ROOT.exists():
        GEN_ROOT.rename(backup)
    staging.rename(GEN_ROOT)
    shutil.rmtree(backup, ignore_errors=True)


def ensure_generated() -> None:
    if is_stale():
        # Several processes may start at once (make up starts five); one generates, the others wait and reuse.
        import fcntl

        GEN_ROOT.parent.mkdir(parents=True, exist_ok=True)
        with open(GEN_ROOT.parent / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if is_stale():
                generate()
    gen = str(GEN_ROOT)
    if gen not in sys.path:
        sys.path.insert(0, gen)


if __name__ == "__main__":
    force = "--force" in sys.argv
    if force or is_stale():
        generate()
        print(f"generated {len(_proto_files())} proto files into {GEN_ROOT.relative_to(REPO_ROOT)}")
    else:
        print("generated code is up to date")
