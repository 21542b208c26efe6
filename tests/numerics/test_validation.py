import numpy as np
import pytest
from bnconvex.numerics._validation import (
    check_beta,
    check_data,
    check_file,
    check_matrix,
    check_output_dir,
    check_output_path,
    check_patterns,
    check_positive_real,
    check_resources,
    load_npz_arrays,
    load_numpy_file,
    one_line_message,
)
from bnconvex.numerics.errors import InputError


def test_check_matrix_rejects_wrong_ndim():
    with pytest.raises(InputError, match=r"`X` must be a 2-D array.*got ndim=3"):
        check_matrix(np.zeros((2, 2, 2)))


def test_check_matrix_checks_the_column_count():
    assert check_matrix(np.ones((3, 2), dtype=int), columns=2).dtype == np.float64
    with pytest.raises(InputError, match=r"`Z` must have shape \(n, 3\); got \(3, 2\)"):
        check_matrix(np.ones((3, 2)), "Z", columns=3)


def test_check_matrix_rejects_nan():
    X = np.ones((3, 2))
    X[1, 1] = np.nan
    with pytest.raises(InputError, match=r"`X` contains 1 NaN or infinite"):
        check_matrix(X)


def test_check_data_rejects_one_sample_and_wrong_label_length():
    with pytest.raises(InputError, match=r"at least 2 rows"):
        check_data(np.ones((1, 3)), np.ones(1))
    match = r"`y` must have one entry per sample \(n=4\); got length 3"
    with pytest.raises(InputError, match=match):
        check_data(np.ones((4, 3)), np.ones(3))


@pytest.mark.parametrize("beta", [0, -1.0, float("nan"), float("inf"), "x"])
def test_check_beta_rejects(beta):
    with pytest.raises(InputError, match="`beta` must be a positive"):
        check_beta(beta)


def test_check_data_converts_integers_losslessly():
    X, y = check_data(np.arange(6).reshape(3, 2), [1, 2, 3])
    assert X.dtype == np.float64
    assert y.tolist() == [1.0, 2.0, 3.0]


def test_check_labels_rejects_inf_naming_the_count_and_bad_dtype():
    y = np.array([1.0, np.inf, -np.inf])
    with pytest.raises(InputError, match=r"`y` contains NaN or infinite values"):
        check_data(np.arange(6.0).reshape(3, 2), y)
    with pytest.raises(InputError, match=r"`y` must be a real numeric array"):
        check_data(np.arange(6.0).reshape(3, 2), np.array(["a", "b", "c"]))


@pytest.mark.parametrize("beta", [True, "0.1", b"1"])
def test_check_beta_refuses_to_coerce_bools_and_strings(beta):
    with pytest.raises(InputError, match=r"`beta` must be a positive real number"):
        check_beta(beta)


def test_check_matrix_rejects_no_columns_and_complex():
    with pytest.raises(InputError, match=r"`X` must have at least one column"):
        check_matrix(np.ones((3, 0)))
    with pytest.raises(InputError, match=r"`X` must be a real numeric array"):
        check_matrix(np.ones((3, 2), dtype=complex))


@pytest.mark.parametrize(
    ("D", "message"),
    [
        (np.ones(3), r"`D` must be a 2-D \(n, P\) array; got ndim=1"),
        (np.ones((2, 2)), r"`D` must have n=3 rows \(samples\); got 2"),
        (np.full((3, 1), 2), r"`D` must hold 0/1 or bool values"),
        (np.array([["1"], ["0"], ["1"]]), r"`D` must hold 0/1 or bool values"),
        (np.ones((3, 0)), r"`D` must have at least one column"),
        (np.array([[1, 0], [0, 0], [1, 0]]), r"`D` column 1 is all zero"),
    ],
)
def test_check_patterns_rejects(D, message):
    with pytest.raises(InputError, match=message):
        check_patterns(D, 3)


def test_check_patterns_converts_0_1_to_bool_and_names_the_source():
    D = check_patterns(np.array([[1, 0], [0, 1], [1, 1]]), 3)
    assert D.dtype == bool, f"expected a bool pattern array; got {D.dtype}"
    assert D.tolist() == [[True, False], [False, True], [True, True]]
    assert check_patterns(np.ones((3, 0)), 3, allow_empty=True).shape == (3, 0)
    with pytest.raises(InputError, match=r"`patterns` 'p.npy' column 0 is all zero"):
        check_patterns(np.zeros((3, 1)), 3, "patterns", source="'p.npy'")


def test_check_file_and_load_numpy_file(tmp_path):
    with pytest.raises(InputError, match=r"`DATA` file not found: '.*none.npz'"):
        check_file(tmp_path / "none.npz", "DATA")
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    with pytest.raises(
        InputError, match=r"`patterns` '.*bad.npy' is not a readable .npy"
    ):
        load_numpy_file(bad, "patterns")
    np.save(tmp_path / "ok.npy", np.arange(3))
    assert load_numpy_file(tmp_path / "ok.npy", "x").tolist() == [0, 1, 2]


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("inf"), "0.1", None])
def test_check_positive_real_names_the_argument(lr):
    with pytest.raises(InputError, match=r"`lr` must be a positive"):
        check_positive_real(lr, "lr")


def test_check_file_says_directory_and_output_paths_are_checked(tmp_path):
    with pytest.raises(InputError, match=r"`DATA` '.*' is a directory; expected"):
        check_file(tmp_path, "DATA")
    (tmp_path / "plain").write_text("x")
    with pytest.raises(InputError, match=r"`--out` '.*out.npz': .* is not a folder"):
        check_output_path(tmp_path / "plain" / "out.npz", "--out", suffix=".npz")
    with pytest.raises(InputError, match=r"`--out` must end in .npz"):
        check_output_path(tmp_path / "out.npy", "--out", suffix=".npz")
    with pytest.raises(InputError, match=r"`--out` '.*' is a directory"):
        check_output_path(tmp_path, "--out")
    assert check_output_dir(tmp_path / "new" / "deeper", "--out").endswith("deeper")
    with pytest.raises(InputError, match=r"is not a folder"):
        check_output_dir(tmp_path / "plain" / "sub", "--out")
    assert not (tmp_path / "new").exists(), "checking must not create folders"


def test_load_npz_arrays_reads_eagerly_and_refuses_pickles(tmp_path):
    import zipfile

    path = tmp_path / "obj.npz"
    with zipfile.ZipFile(path, "w") as archive, archive.open("X.npy", "w") as handle:
        np.lib.format.write_array(handle, np.array([1, "a"], dtype=object))
    with pytest.raises(InputError, match=r"`DATA` '.*obj.npz' is not a readable .npz"):
        load_npz_arrays(path, "DATA", ("X",))
    np.savez(tmp_path / "ok.npz", X=np.ones(2), Y=np.zeros(2))
    arrays = load_npz_arrays(tmp_path / "ok.npz", "DATA", ("X", ("y", "Y")))
    assert sorted(arrays) == ["X", "Y"]
    (tmp_path / "cut.npz").write_bytes((tmp_path / "ok.npz").read_bytes()[:50])
    with pytest.raises(InputError, match=r"not a readable .npz file"):
        load_npz_arrays(tmp_path / "cut.npz", "DATA", ("X",))


def test_one_line_message_strips_colours_and_keeps_the_first_line():
    exc = RuntimeError("\x1b[1mWeights only load failed.\x1b[0m\nmore\nlines")
    assert one_line_message(exc) == "Weights only load failed."
    assert one_line_message(KeyError()) == "KeyError"


def test_check_resources_refuses_with_the_estimate():
    with pytest.raises(InputError, match=r"`beta`: a solve needs about 1024.0 GiB"):
        check_resources(2.0**40, "beta", "a solve", "use a larger beta")
    check_resources(1.0, "beta", "a solve", "unused")


def test_check_data_refuses_values_whose_squares_leave_float64():
    X = np.array([[0.0], [1.0]])
    with pytest.raises(InputError, match=r"`y` has largest magnitude 4.07e-306"):
        check_data(X, np.array([0.0, 4.075e-306]))
    with pytest.raises(InputError, match=r"`X` has largest magnitude 1e\+200"):
        check_data(X * 1e200, np.ones(2))
