"""The layer build: deterministic zips, trimming, splitting, Lambda's limits; and (marker
``layer``) the real awswrangler layer, imported by the runtime's Python against moto."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import boto3
import pytest

from deploy_tools import layer as layer_mod
from deploy_tools import settings as settings_mod
from deploy_tools.lambda_deploy import is_ours, place_layers
from deploy_tools.limits import MAX_UNZIPPED_BYTES, LayerSize, LimitError, check_limits
from deploy_tools.zipper import ZipEntry, entry_size_in_zip, write_zip, zip_overhead
from tests.conftest import Aws

ROOT = Path(__file__).resolve().parent.parent
MAX_ZIP = 35_000_000


def touch(path: Path, data: bytes = b"x", mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


# --- deterministic zips -------------------------------------------------------------------


def test_same_files_give_the_same_zip_bytes(tmp_path: Path) -> None:
    trees = []
    for number, (mtime, mode) in enumerate([(1_000_000, 0o644), (2_000_000_000, 0o600)]):
        base = tmp_path / f"tree{number}"
        files = [
            touch(base / "b.py", b"print('b')\n", mode),
            touch(base / "a" / "x.so", b"\x7fELF" * 100, 0o700 if number else 0o755),
        ]
        for path in files:
            os.utime(path, (mtime, mtime))
        trees.append(base)
    zips = []
    for number, base in enumerate(trees):
        target = tmp_path / f"out{number}.zip"
        # Given in a different order each time: the zip sorts its entries.
        entries = [ZipEntry(base / "b.py", "b.py"), ZipEntry(base / "a" / "x.so", "a/x.so")]
        write_zip(target, entries if number == 0 else entries[::-1])
        zips.append(target.read_bytes())
    assert zips[0] == zips[1]
    with zipfile.ZipFile(tmp_path / "out0.zip") as zf:
        assert zf.namelist() == ["a/x.so", "b.py"]
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        assert modes == {"a/x.so": 0o755, "b.py": 0o644}
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_planned_size_is_the_written_size(tmp_path: Path) -> None:
    rng = random.Random(7)
    entries = [
        ZipEntry(touch(tmp_path / f"f{n}.bin", rng.randbytes(n * 997)), f"python/pkg/f{n}.bin")
        for n in range(1, 20)
    ]
    planned = zip_overhead() + sum(entry_size_in_zip(e) for e in entries)
    write_zip(tmp_path / "out.zip", entries)
    assert (tmp_path / "out.zip").stat().st_size == planned


# --- splitting ----------------------------------------------------------------------------


def test_split_by_file_keeps_every_zip_under_the_limit(tmp_path: Path) -> None:
    site = tmp_path / "site"
    rng = random.Random(1)
    for n in range(12):  # one "package" bigger than a zip: it must be spread over several
        touch(site / "bigpkg" / f"lib{n:02}.so", rng.randbytes(40_000))
    touch(site / "small.py", b"x = 1\n" * 100)
    parts = layer_mod.plan_parts(site, max_zip_bytes=100_000)
    assert len(parts) >= 5
    names = [e.arcname for part in parts for e in part]
    expected = sorted("python/" + p.relative_to(site).as_posix() for p in site.rglob("*.*"))
    assert sorted(names) == expected and len(set(names)) == len(names)
    for number, part in enumerate(parts):
        target = tmp_path / f"part{number}.zip"
        write_zip(target, part)
        assert target.stat().st_size < 100_000
    assert {e.arcname.split("/")[1] for e in parts[0]} == {"bigpkg"}
    assert len([p for p in parts if any("bigpkg" in e.arcname for e in p)]) >= 5


def test_a_file_too_big_for_any_zip_is_an_error(tmp_path: Path) -> None:
    touch(tmp_path / "site" / "huge.so", random.Random(2).randbytes(50_000))
    with pytest.raises(layer_mod.LayerBuildError, match=r"huge\.so alone takes"):
        layer_mod.plan_parts(tmp_path / "site", max_zip_bytes=40_000)


# --- trimming -----------------------------------------------------------------------------


def test_trim_removes_runtime_packages_tests_headers_and_flight(tmp_path: Path) -> None:
    site = tmp_path / "python"
    keep = [
        "numpy/__init__.py",
        "numpy.libs/libopenblas64_p-r0.3.so",
        "numpy/testing/__init__.py",
        "pandas/__init__.py",
        "pyarrow/libarrow.so.2500",
        "pyarrow/libparquet.so.2500",
        "pyarrow/_acero.cpython-312-x86_64-linux-gnu.so",
        "pyarrow/_substrait.cpython-312-x86_64-linux-gnu.so",
        "pyarrow/libarrow_dataset.so.2500",
        "awswrangler/__init__.py",
        "awswrangler-3.17.1.dist-info/METADATA",
        "typing_extensions.py",
    ]
    drop = [
        "boto3/__init__.py",
        "botocore/data/glue/2017-03-31/service-2.json.gz",
        "six.py",
        "dateutil/parser/__init__.py",
        "pandas/tests/test_x.py",
        "numpy/_core/tests/test_y.py",
        "pandas/__pycache__/x.cpython-312.pyc",
        "pyarrow/include/arrow/api.h",
        "pyarrow/src/arrow/python/x.cc",
        "pyarrow/lib.pyx",
        "pyarrow/includes/libarrow.pxd",
        "pyarrow/_flight.cpython-312-x86_64-linux-gnu.so",
        "pyarrow/flight.py",
        "pyarrow/libarrow_flight.so.2500",
        "pyarrow/libarrow_python_flight.so.2500",
        "pyarrow/_pyarrow_cpp_tests.cpython-312-x86_64-linux-gnu.so",
        "numpy/_core/include/numpy/ndarrayobject.h",
        "bin/f2py",
    ]
    for rel in keep + drop:
        touch(site / rel, b"0" * 10)
    records = {
        "boto3-1.40.0.dist-info": ["boto3/__init__.py"],
        "botocore-1.40.0.dist-info": ["botocore/data/glue/2017-03-31/service-2.json.gz"],
        "six-1.17.0.dist-info": ["six.py", "../../bin/outside"],
        "python_dateutil-2.9.0.post0.dist-info": ["dateutil/parser/__init__.py"],
    }
    for dist_info, files in records.items():
        lines = [f"{f},sha256=abc,10" for f in files] + [f"{dist_info}/RECORD,,"]
        touch(site / dist_info / "RECORD", "\n".join(lines).encode())
    runtime = settings_mod.load("dev", environ={}).runtime_provided
    removed = layer_mod.trim(site, runtime)
    left = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert left == set(keep)
    assert not (site / "boto3").exists() and not (site / "pandas" / "tests").exists()
    assert set(removed) == {
        "runtime provided",
        "tests and caches",
        "headers and sources",
        "pyarrow flight",
        "scripts",
    }


def test_manylinux_tags_follow_the_runtime_glibc() -> None:
    tags = layer_mod.manylinux_platforms("2.34")
    assert tags[0] == "manylinux_2_34_x86_64"
    assert {"manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= set(tags)
    assert "manylinux_2_35_x86_64" not in tags


# --- Lambda's limits and layer placement ---------------------------------------------------


def test_five_layers_fit_and_six_are_refused() -> None:
    ours = [LayerSize(f"part{n}", 1_000) for n in range(3)]
    foreign = [LayerSize(f"arn:foreign:{n}", 1_000) for n in range(2)]
    assert check_limits(500, ours, foreign) == 5_500
    with pytest.raises(LimitError, match=r"at most 5 layers.*would attach 6"):
        check_limits(500, ours, [*foreign, LayerSize("arn:foreign:9", 1)])


def test_unzipped_total_must_stay_under_250_mb() -> None:
    ours = [LayerSize("part1", 200_000_000), LayerSize("part2", 50_000_000)]
    foreign = [LayerSize("arn:foreign", 12_000_000)]
    just_under = MAX_UNZIPPED_BYTES - 262_000_000 - 1
    assert check_limits(just_under, ours, foreign) == MAX_UNZIPPED_BYTES - 1
    with pytest.raises(LimitError, match="262,144,000"):
        check_limits(just_under + 1, ours, foreign)
    with pytest.raises(LimitError, match="arn:foreign 12,000,000"):
        check_limits(0, [LayerSize("part1", 300_000_000)], foreign)


def test_our_layers_replace_ours_and_leave_foreign_ones_alone() -> None:
    prefix = "dev-gcpm-deps"
    arn = "arn:aws:lambda:us-east-1:123456789012:layer:{}:{}".format
    foreign_a, foreign_b = arn("insights", 40), arn("datadog", 3)
    new = [arn(f"{prefix}-1", 7), arn(f"{prefix}-2", 7)]
    assert place_layers([foreign_a], new, prefix) == [foreign_a, *new]
    old = [arn(f"{prefix}-1", 6), arn(f"{prefix}-2", 6)]
    assert place_layers([old[0], foreign_a, old[1], foreign_b], new, prefix) == [
        *new,
        foreign_a,
        foreign_b,
    ]
    assert place_layers([foreign_a, *old, foreign_b], new, prefix) == [foreign_a, *new, foreign_b]
    assert is_ours(arn(f"{prefix}-12", 1), prefix)
    assert not is_ours(arn(f"{prefix}-extra-1", 1), prefix)
    assert not is_ours(arn("other-dev-gcpm-deps-1", 1), prefix)


# --- build_layer on a tiny local wheel (offline) --------------------------------------------


def make_wheel(folder: Path, name: str, version: str, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"",
        f"{name}/blob_a.bin": random.Random(name).randbytes(size // 2),
        f"{name}/blob_b.bin": random.Random(name + "b").randbytes(size // 2),
        f"{name}/__pycache__/x.cpython-312.pyc": b"cached",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{p},,\n" for p in [*files, f"{info}/RECORD"]).encode()
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)


def test_layer_build_is_deterministic_and_describes_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_wheel(tmp_path / "wheels", "gcpm_tiny", "1.0", 120_000)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("gcpm_tiny==1.0\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    base = settings_mod.load("dev", environ={})
    settings = replace(
        base,
        requirements_file=requirements,
        publish_dir=tmp_path / "publish",
        build_dir=tmp_path / "build",
        layer_max_zip_bytes=100_000,
        pip_args=("--no-index", "--find-links", str(tmp_path / "wheels")),
    )
    first = layer_mod.build_layer(settings)
    second = layer_mod.build_layer(settings)
    assert first["parts"] == second["parts"]
    assert first["requirements_sha256"] == hashlib.sha256(requirements.read_bytes()).hexdigest()
    assert len(first["parts"]) == 2
    for part in first["parts"]:
        assert part["size"] < 100_000
    info = json.loads((settings.layer_dir / "layer.json").read_text())
    assert layer_mod.matching_layer(settings, info["requirements_sha256"]) == info
    assert layer_mod.matching_layer(settings, "0" * 64) is None
    names = []
    for part in info["parts"]:
        with zipfile.ZipFile(settings.layer_dir / part["file"]) as zf:
            names += zf.namelist()
    assert {"python/gcpm_tiny/blob_a.bin", "python/gcpm_tiny/blob_b.bin"} <= set(names)
    assert not any("__pycache__" in n for n in names)
    # A zip changed on disk is not reused.
    (settings.layer_dir / "layer-1.zip").write_bytes(b"corrupt")
    assert layer_mod.matching_layer(settings, info["requirements_sha256"]) is None


# --- the real layer ----------------------------------------------------------------------------


def runtime_pins() -> list[str]:
    """boto3/botocore as the Lambda runtime provides them (the dev pins stand in)."""
    pins = [
        line.strip()
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.startswith(("boto3==", "botocore=="))
    ]
    assert len(pins) == 2
    return pins


@pytest.mark.layer
def test_real_layer_fits_lambda_and_imports_awswrangler(tmp_path: Path, aws: Aws) -> None:
    moto_url = aws.endpoint  # the suite's moto server, with a clean state
    python312 = layer_mod.find_runtime_python("3.12")
    if python312 is None:
        pytest.skip("python3.12 (the Lambda runtime's Python) is not installed: pyenv install 3.12")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOY_")}
    env.update(
        {
            "PYTHON": sys.executable,
            "DEPLOY_PUBLISH_DIR": str(tmp_path / "publish"),
            "DEPLOY_BUILD_DIR": str(tmp_path / "build"),
            "DEPLOY_LAYER_PYTHON": python312,
        }
    )
    subprocess.run([str(ROOT / "build_layer.sh")], env=env, check=True, timeout=1200)
    info = json.loads((tmp_path / "publish" / "layer" / "layer.json").read_text())
    parts = info["parts"]
    sizes = {p["file"]: (p["size"], p["unzipped"]) for p in parts}
    print(f"layer parts (zipped, unzipped): {sizes}; unzipped total {info['unzipped_total']:,}")
    assert 2 <= len(parts) <= 4
    for part in parts:
        zip_path = tmp_path / "publish" / "layer" / part["file"]
        assert zip_path.stat().st_size == part["size"] < MAX_ZIP
    assert info["unzipped_total"] < MAX_UNZIPPED_BYTES - 5_000_000  # room for the function

    opt = tmp_path / "opt"  # the layers, extracted into one /opt as Lambda does
    names: list[str] = []
    for part in parts:
        with zipfile.ZipFile(tmp_path / "publish" / "layer" / part["file"]) as zf:
            names += zf.namelist()
            zf.extractall(opt)
    assert len(names) == len(set(names))
    tops = {n.split("/")[1] for n in names}
    assert {"awswrangler", "pandas", "numpy", "numpy.libs", "pyarrow"} <= tops
    assert not {"boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six.py"} & tops
    assert not any("/tests/" in n or "__pycache__" in n or "flight" in n for n in names)

    runtime = tmp_path / "runtime"  # what the Lambda runtime provides besides the layers
    subprocess.run(
        [
            *(python312, "-m", "pip", "install", "--quiet", "--target", str(runtime)),
            *("--only-binary=:all:", "--no-compile", *runtime_pins()),
        ],
        check=True,
        timeout=600,
    )
    glue = boto3.client(
        "glue",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    glue.create_database(DatabaseInput={"Name": "raw_sales"})
    storage = {
        "Columns": [{"Name": "id", "Type": "bigint"}],
        "Location": "s3://lake/raw_sales/orders/",
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "SerdeInfo": {"SerializationLibrary": "x"},
    }
    glue.create_table(
        DatabaseName="raw_sales",
        TableInput={
            "Name": "orders",
            "StorageDescriptor": storage,
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        },
    )
    for day in ("2024-01-01", "2024-01-02"):
        glue.create_partition(
            DatabaseName="raw_sales",
            TableName="orders",
            PartitionInput={
                "Values": [day],
                "StorageDescriptor": {
                    **storage,
                    "Location": f"s3://lake/raw_sales/orders/dt={day}/",
                },
            },
        )
    probe = f"""
import json, sys
sys.path[:0] = [{str(opt / "python")!r}, {str(runtime)!r}]
import awswrangler as wr, boto3, numpy, pandas, pyarrow, pyarrow.parquet
assert not any("site-packages" in p for p in sys.path), sys.path
where = {{m.__name__: m.__file__ for m in (wr, pandas, numpy, pyarrow, boto3)}}
print(json.dumps({{
    "partitions": wr.catalog.get_partitions(database="raw_sales", table="orders"),
    "where": where,
    "python": sys.version.split()[0],
}}))
"""
    child_env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    done = subprocess.run(
        [python312, "-I", "-S", "-c", probe],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["python"].startswith("3.12.")
    assert result["partitions"] == {
        "s3://lake/raw_sales/orders/dt=2024-01-01/": ["2024-01-01"],
        "s3://lake/raw_sales/orders/dt=2024-01-02/": ["2024-01-02"],
    }
    for module in ("awswrangler", "pandas", "numpy", "pyarrow"):
        assert result["where"][module].startswith(str(opt)), result["where"]
    assert result["where"]["boto3"].startswith(str(runtime))
