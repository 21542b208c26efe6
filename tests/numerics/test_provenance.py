"""Provenance: versions (CuPy under its wheel names), git revision, machine."""

from __future__ import annotations

import json
import os
import sys
import types
from importlib import metadata

import numpy as np
import pytest
from bnconvex.numerics import provenance


def _fake_distributions(monkeypatch, installed):
    def version(name):
        if name in installed:
            return installed[name]
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(provenance.metadata, "version", version)


@pytest.mark.parametrize("dist", ["cupy-cuda12x", "cupy-cuda11x", "cupy"])
def test_cupy_is_found_under_each_wheel_name(monkeypatch, dist):
    _fake_distributions(monkeypatch, {dist: "13.3.0"})
    assert provenance.cupy_version() == "13.3.0"
    assert provenance.software_versions()["cupy"] == "13.3.0"


def test_cupy_absent_or_imported_from_a_source_tree(monkeypatch):
    _fake_distributions(monkeypatch, {})
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    assert provenance.cupy_version() is None
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(__version__="14.0"))
    assert provenance.cupy_version() == "14.0"


def test_versions_are_the_installed_ones():
    versions = provenance.software_versions()
    assert versions["numpy"] == np.__version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert set(versions) >= {"bnconvex", "scipy", "sympy", "mpmath", "cupy"}


def test_git_revision_environment_override(monkeypatch):
    monkeypatch.setenv("BNCONVEX_GIT_REVISION", "abc123")
    assert provenance.git_revision() == "abc123"
    monkeypatch.delenv("BNCONVEX_GIT_REVISION")
    rev = provenance.git_revision()
    assert rev is None or (len(rev) == 40 and int(rev, 16) >= 0)


def test_machine_and_record_are_json():
    record = provenance.provenance_record()
    assert set(record) == {"versions", "machine", "git_revision"}
    machine = record["machine"]
    assert machine["cpu_count"] == os.cpu_count()
    assert {"cpu_model", "memory_gb", "gpu", "blas", "platform"} <= set(machine)
    json.dumps(record, allow_nan=False)


def test_blas_is_listed_when_threadpoolctl_is_installed():
    pytest.importorskip("threadpoolctl")  # optional third-party package
    blas = provenance.blas_info()
    assert any(lib["user_api"] == "blas" for lib in blas), blas
