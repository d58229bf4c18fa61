"""The model-repository file list (pure) on a real folder, and its object resources stay put
across runs."""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path

import pytest

from components.storage import model_repository_files
from components.storage.repository import content_type, is_ignored, normalise_prefix

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/model_repo"
KEYS = [
    "echo_text/1/model.py",
    "echo_text/config.pbtxt",
    "echo_text/labels.txt",
    "identity/1/model.py",
    "identity/config.pbtxt",
]


@pytest.fixture
def littered(tmp_path: Path) -> Path:
    """The fixture plus the caches and VCS folders git would not carry."""
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo)
    (repo / "identity/1/__pycache__").mkdir()
    (repo / "identity/1/__pycache__/model.cpython-311.pyc").write_bytes(b"\x00\x01")
    (repo / "echo_text/1/model.pyc").write_bytes(b"\x00")
    (repo / ".git").mkdir()
    (repo / ".git/HEAD").write_text("ref: refs/heads/main\n")
    (repo / "echo_text/1/.model.py.swo").write_text("swap")
    (repo / "identity/._config.pbtxt").write_bytes(b"\x00\x05\x16\x07")
    (repo / "echo_text/.ipynb_checkpoints").mkdir()
    (repo / "echo_text/.ipynb_checkpoints/x.py").write_text("print()")
    return repo


def test_keys_mirror_the_folder_sorted() -> None:
    files = model_repository_files(FIXTURE)
    assert [f.key for f in files] == KEYS
    assert all(f.path == FIXTURE / f.key for f in files)


def test_keys_under_a_prefix() -> None:
    assert [f.key for f in model_repository_files(FIXTURE, "/models/v1/")] == [f"models/v1/{k}" for k in KEYS]


def test_editor_vcs_and_cache_files_are_skipped(littered: Path) -> None:
    # The fixture itself carries .DS_Store, Thumbs.db, a *~ backup, a .swp and notebook checkpoints.
    assert (FIXTURE / ".DS_Store").exists() and (FIXTURE / "identity/config.pbtxt~").exists()
    assert [f.key for f in model_repository_files(littered)] == KEYS


def test_content_types() -> None:
    types = {f.key: f.content_type for f in model_repository_files(FIXTURE)}
    assert types["identity/config.pbtxt"] == "text/plain; charset=utf-8"
    assert types["identity/1/model.py"] == "text/x-python; charset=utf-8"
    assert types["echo_text/labels.txt"] == "text/plain; charset=utf-8"
    assert content_type("1/model.onnx") == content_type("1/model.plan") == "application/octet-stream"
    assert content_type("CONFIG.JSON") == "application/json"


def test_hashes_match_the_content_and_are_stable(littered: Path) -> None:
    first = model_repository_files(FIXTURE)
    second = model_repository_files(littered)  # another copy of the same content
    assert [(f.key, f.md5, f.sha256, f.content_type) for f in first] == [
        (f.key, f.md5, f.sha256, f.content_type) for f in second
    ]
    for f in first:
        data = f.path.read_bytes()
        assert f.md5 == hashlib.md5(data).hexdigest()
        assert f.sha256 == hashlib.sha256(data).hexdigest()
        assert f.md5_base64 == base64.b64encode(hashlib.md5(data).digest()).decode()


def test_a_changed_file_changes_only_its_hash(littered: Path) -> None:
    before = {f.key: f.md5 for f in model_repository_files(littered)}
    (littered / "echo_text/labels.txt").write_text("echo\nreply\n")
    after = {f.key: f.md5 for f in model_repository_files(littered)}
    assert {k for k in before if before[k] != after[k]} == {"echo_text/labels.txt"}


def test_is_ignored_rules() -> None:
    from pathlib import PurePosixPath as P

    for junk in (
        ".DS_Store",
        "a/Thumbs.db",
        "a/b.swp",
        "a/b~",
        "__pycache__/m.py",
        "a/m.pyc",
        ".git/config",
        ".ipynb_checkpoints/n.ipynb",
        "a/._x",
    ):
        assert is_ignored(P(junk)), junk
    for keep in ("a/config.pbtxt", "a/1/model.py", "a/.gitkeep-not-ignored-by-name/x", "tokenizer.json"):
        assert not is_ignored(P(keep)), keep


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        model_repository_files(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/.DS_Store").write_text("x")
    with pytest.raises(ValueError, match="no files to publish"):
        model_repository_files(tmp_path / "empty")
    for bad in ("../up", "a//b", "./a"):
        with pytest.raises(ValueError, match="plain path segments"):
            normalise_prefix(bad)
    assert normalise_prefix("  /models/ ") == "models"


def test_object_resources_do_not_churn_across_runs() -> None:
    """Two program runs over the same folder register the same names and hashes."""
    from tests.components.test_storage_common import run_store

    def objects(run):
        return sorted(
            (o.name, o.inputs["key"], o.inputs["sourceHash"])
            for o in run.by_type("aws:s3/bucketObjectv2:BucketObjectv2")
        )

    first, second = run_store("aws", "dev", publish=FIXTURE), run_store("aws", "dev", publish=FIXTURE)
    assert objects(first) == objects(second) and len(objects(first)) == len(KEYS)
    assert [n for n, _, _ in objects(first)] == [f"r1-repo-models/{k}" for k in KEYS]
