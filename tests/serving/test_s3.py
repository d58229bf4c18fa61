"""The same repository, published with the upload helper's key layout, loads from S3 (moto)."""

from __future__ import annotations

import shutil
import numpy as np
import pytest

from components.storage.repository import model_repository_files

from . import load
from .conftest import MODELS, SERVER_ARGS
from .harness import TritonServer, http_post

BUCKET = "gpufleet-models"
PREFIX = "triton/prod"
DUMMY = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def published(moto_s3, repository, tmp_path_factory) -> list[str]:
    """Upload every file model_repository_files() lists, under the keys it gives, as the
    per-cloud upload does (content type and Content-MD5 from the same RepositoryFile)."""
    boto3 = pytest.importorskip("boto3")
    folder = tmp_path_factory.mktemp("publish") / "repo"
    shutil.copytree(repository, folder)
    # Litter a real checkout would have: the helper must leave it out, and Triton must not need it.
    (folder / "mlp" / "1" / "__pycache__").mkdir(exist_ok=True)
    (folder / "mlp" / "1" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".DS_Store").write_bytes(b"Bud1")
    (folder / "noop" / "config.pbtxt~").write_text("stale backup")
    files = model_repository_files(folder, prefix=PREFIX)
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    for f in files:
        s3.put_object(Bucket=BUCKET, Key=f.key, Body=f.path.read_bytes(), ContentType=f.content_type,
                      ContentMD5=f.md5_base64)
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert listed == [f.key for f in files]
    return listed


def test_keys_are_the_rendered_files(published, rendered):
    folder, files = rendered
    assert published == sorted(f"{PREFIX}/{p.relative_to(folder).as_posix()}" for p in files)
    assert not any("__pycache__" in k or k.endswith(("~", ".DS_Store")) for k in published)


def test_tritonserver_loads_the_repository_from_s3(published, moto_s3, triton_dist, tmp_path):
    host = moto_s3.removeprefix("http://")
    srv = TritonServer(f"s3://{host}/{BUCKET}/{PREFIX}", env=DUMMY, extra_args=SERVER_ARGS, workdir=tmp_path,
                       dist=triton_dist)
    try:
        srv.start()
        for name in MODELS:
            assert srv.ready(name), name
        body, headers = load.infer_request(np.ones((2, 32), np.float32))
        status, resp_headers, raw = http_post(f"{srv.url}/v2/models/mlp/infer", body, headers)
        assert status == 200, raw
        doc, out = load.decode_response(raw, resp_headers.get("Inference-Header-Content-Length"))
        assert out.shape == (2, 16) and np.isfinite(out).all()
        assert srv.model_config("mlp")["dynamic_batching"]["default_queue_policy"]["timeout_action"] == "REJECT"
    finally:
        log = srv.log()
        srv.stop()
    assert f"s3://{host}/{BUCKET}/{PREFIX}" in log
