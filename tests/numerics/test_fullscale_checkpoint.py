"""Checkpoints keep the patterns: ``fit(resume=...)`` continues on the same program."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale import fit, sample_patterns, solve_fullscale
from bnconvex.numerics.fullscale import model as model_module
from bnconvex.numerics.fullscale.checkpoint import PatternRecord, saved_patterns

#: solver options of every fit here: the AL (n > 4096 is not needed: asked),
#: a few checks, so that a resume has iterations left to take
_KW = dict(method="al", max_outer=2, tol=1e-12, polish=False)


def _data(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    return X, np.sign(X[:, 0] * X[:, 1])


def _count_sampling(monkeypatch) -> list:
    """Count the calls of fit's pattern sampler (network or Gaussian)."""
    calls: list = []
    real = model_module._sample

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(model_module, "_sample", counted)
    return calls


@pytest.mark.parametrize("sampling", ["gaussian", "network"])
def test_resume_uses_the_checkpoints_patterns(tmp_path, monkeypatch, sampling):
    """The resumed fit samples nothing: it solves over the checkpoint's
    patterns (network patterns of a time-cut training need not come out the
    same twice), with its generators, and continues the iterations."""
    X, y = _data()
    path = tmp_path / "ck.npz"
    kw = dict(patterns=8, sampling=sampling, **_KW)
    first = fit(X, y, 0.05, checkpoint=path, **kw)
    calls = _count_sampling(monkeypatch)
    resumed = fit(X, y, 0.05, resume=path, **{**kw, "max_outer": 4})
    assert calls == []
    np.testing.assert_array_equal(resumed.gates, first.gates)
    assert resumed.sampling == first.sampling == sampling
    assert resumed.solution.outer_iterations > first.solution.outer_iterations
    # and without the resume the same fit samples once
    fit(X, y, 0.05, **kw)
    assert len(calls) == 1


def test_resume_keeps_a_fallback_to_gaussian_patterns(tmp_path, monkeypatch):
    """A run that fell back to Gaussian patterns (too little time for the
    network) is resumed on them, though the network is asked for again."""
    X, y = _data(seed=1)
    path = tmp_path / "ck.npz"
    kw = dict(patterns=8, sampling="network", **_KW)
    monkeypatch.setattr(model_module, "network_pass_seconds", lambda F, width: 1e3)
    first = fit(X, y, 0.05, checkpoint=path, time_limit=100.0, **kw)
    assert first.sampling == "gaussian"
    monkeypatch.setattr(model_module, "network_pass_seconds", lambda F, width: 1e-3)
    resumed = fit(X, y, 0.05, resume=path, time_limit=100.0, **kw)
    assert resumed.sampling == "gaussian"
    np.testing.assert_array_equal(resumed.gates, first.gates)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            dict(patterns=16),
            r"the patterns differ \(checkpoint 8 'gaussian' patterns, "
            r"seed 0, this call 16 'gaussian' patterns, seed 0\)",
        ),
        (dict(seed=1), r"the patterns differ .* seed 0, this call .* seed 1\)"),
        (dict(sampling="network"), r"the patterns differ .*'network'"),
        (dict(n=299), r"n differs \(checkpoint 300, this call 299\)"),
    ],
)
def test_resume_with_other_patterns_is_refused(tmp_path, change, match):
    X, y = _data()
    path = tmp_path / "ck.npz"
    fit(X, y, 0.05, patterns=8, checkpoint=path, **_KW)
    n = change.pop("n", 300)
    kw = dict(patterns=8, sampling="gaussian", seed=0, **_KW)
    with pytest.raises(InputError, match=r"`resume` checkpoint .* another problem: "):
        fit(X[:n], y[:n], 0.05, resume=path, **{**kw, **change})
    with pytest.raises(InputError, match=match):
        fit(X[:n], y[:n], 0.05, resume=path, **{**kw, **change})


def _rewrite(path, **entries) -> None:
    """Rewrite a checkpoint with some entries replaced (None: removed)."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    for key, value in entries.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        (
            dict(_D=np.zeros((3, 8), np.uint8)),
            r"pattern mask is not that of n = 300 samples and at most 8",
        ),
        (dict(_D=np.zeros((38, 8), np.float32)), r"pattern mask is not that of"),
        (dict(_D=np.zeros((38, 9), np.uint8)), r"pattern mask is not that of"),
        (dict(_D=np.asarray(5, np.uint8)), r"pattern mask is not that of"),
        (dict(_gates=np.full((5, 8), np.nan)), r"generators are not \(5, 8\) finite"),
        (dict(_gates=np.zeros((4, 8))), r"generators are not \(5, 8\)"),
        (dict(_meta=np.asarray("[1, 2]")), r"must be a checkpoint .*not a JSON object"),
        (dict(_meta=np.asarray("{")), r"must be a checkpoint \.npz"),
        # a pickled object is never unpickled
        (dict(_D=np.array([{"a": 1}], dtype=object)), r"must be a checkpoint \.npz"),
    ],
)
def test_malformed_pattern_entries_are_refused(tmp_path, entries, match):
    """Hand-edited or truncated pattern entries: one InputError, no traceback."""
    X, y = _data()
    path = tmp_path / "ck.npz"
    fit(X, y, 0.05, patterns=8, checkpoint=path, **_KW)
    _rewrite(path, **entries)
    with pytest.raises(InputError, match=match):
        fit(X, y, 0.05, patterns=8, resume=path, **_KW)


@pytest.mark.parametrize("keep", [3000, 100, "npy"])
def test_truncated_checkpoint_is_refused(tmp_path, keep):
    """A checkpoint cut short (a full disk, a copy interrupted), or a single
    ``.npy`` array under the name: one InputError, for the pattern read and
    for the solver's own."""
    X, y = _data()
    path = tmp_path / "ck.npz"
    model = fit(X, y, 0.05, patterns=8, checkpoint=path, **_KW)
    if keep == "npy":
        with path.open("wb") as handle:
            np.save(handle, np.zeros(3))
    else:
        path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(InputError, match=r"`resume` must be a checkpoint \.npz"):
        fit(X, y, 0.05, patterns=8, resume=path, **_KW)
    F = model.features.transform(X)
    D, _ = sample_patterns(F, 8, seed=0)
    with pytest.raises(InputError, match=r"`resume` must be a checkpoint \.npz"):
        solve_fullscale(F, y, 0.05, D, resume=path, **_KW)


def test_malformed_sampling_record_is_refused(tmp_path):
    X, y = _data()
    path = tmp_path / "ck.npz"
    fit(X, y, 0.05, patterns=8, checkpoint=path, **_KW)
    with np.load(path) as data:
        meta = json.loads(str(data["_meta"]))
    meta["patterns"]["sampling"] = "uniform"
    _rewrite(path, _meta=np.asarray(json.dumps(meta)))
    with pytest.raises(InputError, match=r"pattern sampling 'uniform' is not"):
        fit(X, y, 0.05, patterns=8, resume=path, **_KW)


def test_checkpoint_without_a_pattern_record_compares_D(tmp_path):
    """A checkpoint of a direct solve_fullscale call records no sampling:
    fit samples its patterns and the resume compares D's fingerprint, as
    before (same seed: accepted)."""
    X, y = _data()
    model = fit(X, y, 0.05, patterns=8, **_KW)
    F = model.features.transform(X)
    D, _ = sample_patterns(F, 8, seed=0)
    path = tmp_path / "ck.npz"
    solve_fullscale(F, y, 0.05, D, checkpoint=path, **_KW)
    record = PatternRecord(8, "gaussian", "gaussian", 0)
    assert saved_patterns(path, record, F.shape, np) is None
    resumed = fit(X, y, 0.05, patterns=8, resume=path, **{**_KW, "max_outer": 3})
    assert resumed.solution.outer_iterations == 3
    with pytest.raises(InputError, match=r"the data `D` differs"):
        fit(X, y, 0.05, patterns=8, seed=5, resume=path, **_KW)


def test_checkpoint_packs_the_mask(tmp_path):
    """The mask is stored as bits: ``ceil(n / 8) x P`` bytes, unpacked exactly."""
    X, y = _data(n=301)
    path = tmp_path / "ck.npz"
    model = fit(X, y, 0.05, patterns=8, checkpoint=path, **_KW)
    with np.load(path) as data:
        assert data["_D"].shape == (38, 8)
        assert data["_D"].dtype == np.uint8
    F = model.features.transform(X)
    record = PatternRecord(8, "gaussian", "gaussian", 0)
    D, gates, used = saved_patterns(path, record, F.shape, np)
    np.testing.assert_array_equal(D, F @ model.gates >= 0)
    np.testing.assert_array_equal(gates, model.gates)
    assert used == "gaussian"


def test_resume_in_any_namespace(tmp_path, xp):
    """The patterns come back in the caller's namespace (array-API code)."""
    X, y = _data(n=200)
    path = tmp_path / "ck.npz"
    kw = dict(patterns=8, **_KW)
    first = fit(xp.asarray(X), xp.asarray(y), 0.05, checkpoint=path, **kw)
    resumed = fit(xp.asarray(X), xp.asarray(y), 0.05, resume=path, **kw)
    np.testing.assert_array_equal(np.asarray(resumed.gates), np.asarray(first.gates))
    assert resumed.solution.outer_iterations == first.solution.outer_iterations
