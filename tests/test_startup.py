"""Start-up cost: the clean path imports neither datasketch nor scipy, and what replaces them
(MinHash permutations, the LSH optimum) gives exactly datasketch's results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _false_negative_probability, _false_positive_probability, _optimal_param
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import Cleaner, Config
from dedup.config import LSHConfig
from dedup.lsh import LSH_WEIGHTS, gauss_legendre, lsh_errors, lsh_params, optimal_params
from dedup.signature import permutations

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "seed" / "000_07834c4afbc45afc.txt"
# Never needed to clean with the defaults (tqdm: only for a bar on a terminal; pydantic: only to
# check a config that is not the default one; pyarrow: Parquet only; sklearn: training only).
HEAVY = ("datasketch", "scipy", "tqdm", "pydantic", "pyarrow", "sklearn")
THRESHOLDS = [round(0.05 * k, 2) for k in range(1, 20)]  # 0.05 .. 0.95


# The permutations --------------------------------------------------------------------------

@pytest.mark.parametrize("num_perm", [1, 2, 16, 128, 256, 1000])
@pytest.mark.parametrize("seed", [0, 1, 3, 42, 2**32 - 1])
def test_permutations_equal_datasketch(num_perm: int, seed: int) -> None:
    a, b = permutations(num_perm, seed)
    want_a, want_b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    assert (a.dtype, b.dtype) == (want_a.dtype, want_b.dtype) == (np.uint32, np.uint32)
    assert a.tobytes() == want_a.tobytes() and b.tobytes() == want_b.tobytes()


@given(st.integers(1, 600), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_permutations_equal_datasketch_any_seed(num_perm: int, seed: int) -> None:
    a, b = permutations(num_perm, seed)
    want_a, want_b = MinHash(num_perm=num_perm, seed=seed).permutations
    assert a.tobytes() == want_a.tobytes() and b.tobytes() == want_b.tobytes()


def test_permutations_are_read_only() -> None:
    a, _ = permutations(8, 1)
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 1


@pytest.mark.parametrize(("num_perm", "seed", "message"), [
    (0, 1, "num_perm must be a positive int"),
    (-3, 1, "num_perm must be a positive int"),
    (True, 1, "num_perm must be a positive int"),
    (8, -1, r"seed must be an int in \[0, 2\*\*32\)"),
    (8, 2**32, r"seed must be an int in \[0, 2\*\*32\)"),
    (8, 1.5, r"seed must be an int in \[0, 2\*\*32\)"),
])
def test_permutations_bad_arguments(num_perm: int, seed: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        permutations(num_perm, seed)


# The LSH optimum ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 64, 256])
def test_gauss_legendre_is_exact_to_degree_2n_minus_1(n: int) -> None:
    x, w = gauss_legendre(n)
    assert len(x) == len(w) == n and bool((w > 0).all())
    for k in range(2 * n):
        exact = 2.0 / (k + 1) if k % 2 == 0 else 0.0
        assert abs(float(np.sum(w * x**k)) - exact) < 1e-13 * max(1.0, n / 8)
    if n <= 5:  # one degree more is not exact: the rule is no higher order than claimed
        assert abs(float(np.sum(w * x ** (2 * n))) - 2.0 / (2 * n + 1)) > 1e-4


@pytest.mark.parametrize("n", [1, 4, 17, 100])
def test_gauss_legendre_equals_numpy(n: int) -> None:
    want_x, want_w = np.polynomial.legendre.leggauss(n)
    x, w = gauss_legendre(n)
    order = np.argsort(x)
    assert np.allclose(x[order], want_x, rtol=0, atol=1e-15)
    assert np.allclose(w[order], want_w, rtol=1e-11, atol=0)  # numpy's are the rougher


@pytest.mark.parametrize("n", [0, -1, 2.0, True])
def test_gauss_legendre_bad_n(n: int) -> None:
    with pytest.raises(ValueError, match="n must be a positive int"):
        gauss_legendre(n)


@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.55, 0.85, 0.95])
@pytest.mark.parametrize("num_perm", [16, 128])
def test_areas_equal_datasketch_integrals(threshold: float, num_perm: int) -> None:
    b, r, fp = lsh_errors(threshold, num_perm, 1.0, 0.0)
    _, _, fn = lsh_errors(threshold, num_perm, 0.0, 1.0)
    pairs = [(bb, rr) for bb in range(1, num_perm + 1) for rr in range(1, num_perm // bb + 1)]
    assert list(zip(b.tolist(), r.tolist(), strict=True)) == pairs  # datasketch's search order
    for i in range(0, len(pairs), 7):
        bb, rr = pairs[i]
        assert abs(fp[i] - _false_positive_probability(threshold, bb, rr)) < 1e-11
        assert abs(fn[i] - _false_negative_probability(threshold, bb, rr)) < 1e-11


@pytest.mark.parametrize("num_perm", [16, 32, 64, 100, 128, 256, 512])
def test_optimal_params_equal_datasketch_on_a_grid(num_perm: int) -> None:
    for weights in (LSH_WEIGHTS, (0.5, 0.5)):
        got = [optimal_params(t, num_perm, weights) for t in THRESHOLDS]
        want = [_optimal_param(t, num_perm, *weights) for t in THRESHOLDS]
        assert got == want, (num_perm, weights)


@given(st.floats(0.05, 0.95), st.integers(2, 96), st.floats(0.05, 0.95))
@settings(max_examples=60, deadline=None)
def test_optimal_params_equal_datasketch_anywhere(threshold: float, num_perm: int,
                                                  fp_weight: float) -> None:
    weights = (fp_weight, 1.0 - fp_weight)
    assert optimal_params(threshold, num_perm, weights) == _optimal_param(
        threshold, num_perm, *weights)


@pytest.mark.parametrize(("threshold", "num_perm", "weights"), [
    (0.5, 2, (0.5, 0.5)),  # (1, 1) and (1, 2) tie exactly: datasketch's rounding decides
    (0.5, 3, (0.5, 0.5)),
    (0.14, 256, LSH_WEIGHTS),  # the best two 5e-9 apart, within quad's tolerance
    (0.08, 384, (0.5, 0.5)),  # 1e-13 apart
])
def test_near_ties_give_datasketch_answer(threshold: float, num_perm: int,
                                          weights: tuple[float, float]) -> None:
    error = lsh_errors(threshold, num_perm, *weights)[2]
    best_two = np.sort(error)[:2]
    assert best_two[1] - best_two[0] < 3e-8  # these are the cases the fallback is for
    assert optimal_params(threshold, num_perm, weights) == _optimal_param(
        threshold, num_perm, *weights)


@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.5, 0.7, 0.85, 0.9, 1.0])
@pytest.mark.parametrize("num_perm", [8, 64, 128, 256])
def test_lsh_params_equal_minhashlsh(threshold: float, num_perm: int) -> None:
    probe = MinHashLSH(threshold=max(0.05, threshold - 0.15), num_perm=num_perm,
                       weights=LSH_WEIGHTS)
    assert lsh_params(LSHConfig(num_perm=num_perm, threshold=threshold)) == (probe.b, probe.r)


def test_one_band_where_minhashlsh_refused() -> None:
    # MinHashLSH raises "The number of bands are too small (b < 2)" for its own optimum here
    # (num_perm <= 7 at high thresholds), which made the clean fail with a traceback; one band
    # is a valid banding, so the optimum is used as it is.
    cfg = LSHConfig(num_perm=2, threshold=0.9)
    with pytest.raises(ValueError, match="too small"):
        MinHashLSH(threshold=0.75, num_perm=2, weights=LSH_WEIGHTS)
    assert lsh_params(cfg) == _optimal_param(0.75, 2, *LSH_WEIGHTS) == (1, 2)
    line = "The council approved the harbour bridge budget after a long debate on Monday."
    result = Cleaner(Config(lsh=cfg)).clean(f"{line}\nSomething else entirely here.\n{line}")
    assert result.text == f"{line}\nSomething else entirely here.\n"


@pytest.mark.parametrize(("args", "message"), [
    ((1.5, 128, (0.5, 0.5)), "threshold must be in"),
    ((-0.1, 128, (0.5, 0.5)), "threshold must be in"),
    ((0.5, 1, (0.5, 0.5)), "num_perm must be an int of at least 2"),
    ((0.5, 12.0, (0.5, 0.5)), "num_perm must be an int of at least 2"),
    ((0.5, 128, (1.5, -0.5)), "weights must be in"),
])
def test_optimal_params_bad_arguments(args: tuple[float, int, tuple[float, float]],
                                      message: str) -> None:
    with pytest.raises(ValueError, match=message):
        optimal_params(*args)


# What a process imports --------------------------------------------------------------------

def _loaded_after(code: str, tmp_path: Path) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter on this checkout and report which heavy packages it
    imported (and whatever ``code`` put in ``result``)."""
    script = (
        "import json, sys\nresult = None\n" + code +
        f"\nprint(json.dumps({{'loaded': sorted({{m.split('.')[0] for m in sys.modules}}"
        f" & set({list(HEAVY)!r})), 'result': result}}))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return out


def test_importing_the_cli_imports_no_heavy_package(tmp_path: Path) -> None:
    got = _loaded_after("import dedup, dedup.cli\n"
                        "result = [dedup.__file__, 'dedup.corpus' in sys.modules]", tmp_path)
    assert got == {"loaded": [], "result": [str(ROOT / "dedup" / "__init__.py"), False]}


def test_a_whole_clean_imports_no_heavy_package(tmp_path: Path) -> None:
    code = (
        "from dedup import Cleaner\n"
        f"text = open({str(SEED)!r}, encoding='utf-8').read()\n"
        "res = Cleaner().clean(text + '\\n' + text)\n"
        "result = [len(res.text.splitlines()), sorted({v.reason for v in res.verdicts})]\n")
    got = _loaded_after(code, tmp_path)
    assert got["loaded"] == []
    assert isinstance(got["result"], list)
    kept, reasons = got["result"]
    assert 0 < kept < 82 and "duplicate:exact" in reasons  # it really cleaned and deduplicated


def test_the_clean_command_with_jobs_imports_no_heavy_package(tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    text = SEED.read_text(encoding="utf-8")
    docs.write_text("".join(json.dumps({"id": f"d{i}", "text": text}) + "\n" for i in range(6)),
                    encoding="utf-8")
    code = (
        "from click.testing import CliRunner\nfrom dedup.cli import main\n"
        f"r = CliRunner().invoke(main, ['clean', {str(docs)!r}, '-o', 'out.jsonl', '-j', '2',"
        " '--removed', 'removed.jsonl'])\n"
        "result = [r.exit_code, r.output[-300:]]\n")
    got = _loaded_after(code, tmp_path)
    assert isinstance(got["result"], list) and got["result"][0] == 0, got
    assert got["loaded"] == []
    reasons = {json.loads(line)["reason"] for line in
               (tmp_path / "removed.jsonl").read_text(encoding="utf-8").splitlines()}
    assert "duplicate:cross-doc" in reasons  # the corpus stage ran: its LSH keys were needed
