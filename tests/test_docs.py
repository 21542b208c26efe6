"""README.md is executable: its examples run and its pasted outputs are real.

* Every ```python block runs, in document order, in one namespace, inside a
  temporary folder (the first block writes ``data.npz`` for the CLI tour).
* Every ```bash block runs with ``bash -e`` in the same folder, in order,
  after the Python blocks.  A ```json or ```text block right after a bash block
  is that command's output: it must match the real output (numbers to a
  relative 1e-6, wall times ignored).
* A block preceded by ``<!-- no-test -->`` is skipped (installs, long jobs,
  PyTorch); at most ``MAX_SKIPPED`` blocks and at most half of the bash blocks
  may be skipped, so the README cannot drift out of testing quietly.

A failure names the block (number and README line).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP_MARK = "<!-- no-test -->"
MAX_SKIPPED = 8
#: numbers in pasted outputs: rel tolerance (BLAS/LAPACK may differ in the last
#: digits across machines), abs floor for values that are ~0 (gaps ~1e-15)
RTOL, ATOL = 1e-6, 1e-9
#: keys / line prefixes of pasted outputs that are wall times
TIME_KEYS = ("seconds",)
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    number: int  # 1-based, over all fenced blocks
    lang: str
    code: str
    line: int  # line of the opening fence (1-based)
    skipped: bool

    def where(self) -> str:
        return f"README block {self.number} ({self.lang}, line {self.line})"


def parse_blocks(text: str) -> list[Block]:
    """Fenced code blocks of a Markdown text, with their no-test marks."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            i += 1
        prev = [ln.strip() for ln in lines[:start] if ln.strip()]
        skipped = bool(prev) and prev[-1] == SKIP_MARK
        code = "\n".join(lines[start + 1 : i]) + "\n"
        blocks.append(Block(len(blocks) + 1, match.group(1), code, start + 1, skipped))
        i += 1
    return blocks


def test_parse_blocks_reads_marks_and_lines():
    text = "a\n```python\nx = 1\n```\n<!-- no-test -->\n\n```bash\nfalse\n```\n"
    blocks = parse_blocks(text)
    assert [(b.number, b.lang, b.line, b.skipped) for b in blocks] == [
        (1, "python", 2, False),
        (2, "bash", 7, True),
    ], blocks
    assert blocks[0].code == "x = 1\n"


BLOCKS = parse_blocks(README.read_text(encoding="utf-8"))
PYTHON = [b for b in BLOCKS if b.lang == "python" and not b.skipped]
BASH = [b for b in BLOCKS if b.lang == "bash"]


def _output_block(block: Block) -> Block | None:
    """The ```json/```text block that directly follows ``block``, if any."""
    after = BLOCKS[block.number] if block.number < len(BLOCKS) else None
    if after is None or after.lang not in ("json", "text"):
        return None
    lines = README.read_text(encoding="utf-8").splitlines()
    closing = block.line + block.code.count("\n")  # 0-based index of its ```
    between = lines[closing + 1 : after.line - 1]
    return after if not any(ln.strip() for ln in between) else None


def _numbers_match(expected: str, actual: str) -> bool:
    try:
        e, a = float(expected), float(actual)
    except ValueError:
        return expected == actual
    return math.isclose(e, a, rel_tol=RTOL, abs_tol=ATOL)


def _json_mismatches(expected, actual, path="") -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            return [f"{path or 'top'}: keys {sorted(expected)} != {sorted(actual)}"]
        return [
            m
            for k in expected
            if k not in TIME_KEYS
            for m in _json_mismatches(expected[k], actual[k], f"{path}.{k}")
        ]
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        ok = isinstance(actual, (int, float))
        ok = ok and _numbers_match(str(expected), str(actual))
    else:
        ok = expected == actual
    return [] if ok else [f"{path}: README {expected!r} != actual {actual!r}"]


def _text_mismatches(expected: str, actual: str) -> list[str]:
    exp, act = expected.strip().splitlines(), actual.strip().splitlines()
    if len(exp) != len(act):
        return [f"{len(exp)} lines in the README, {len(act)} printed:\n{actual}"]
    out = []
    for e, a in zip(exp, act, strict=True):
        te, ta = e.split(), a.split()
        if te[:1] == ta[:1] and te[:1] and te[0] in TIME_KEYS:
            continue
        if len(te) != len(ta) or not all(map(_numbers_match, te, ta)):
            out.append(f"README {e!r} != actual {a!r}")
    return out


def output_mismatches(expected: Block, actual: str) -> list[str]:
    """Differences between a pasted output block and a real output."""
    if expected.lang == "json":
        try:
            got = json.loads(actual)
        except json.JSONDecodeError as exc:
            return [f"output is not one JSON object ({exc}):\n{actual}"]
        return _json_mismatches(json.loads(expected.code), got)
    return _text_mismatches(expected.code, actual)


def test_output_comparison_can_fail():
    out = Block(2, "json", '{"objective": 1.0, "seconds": 3.0}', 1, False)
    assert output_mismatches(out, '{"objective": 1.0000000001, "seconds": 9}') == []
    assert output_mismatches(out, '{"objective": 1.01, "seconds": 3.0}') != []
    assert output_mismatches(out, '{"objective": 1.0}') != []
    text = Block(2, "text", "gap  7.3e-15\nseconds 0.02\nstatus optimal\n", 1, False)
    assert _text_mismatches(text.code, "gap  7.9e-15\nseconds 5\nstatus optimal") == []
    assert _text_mismatches(text.code, "gap 7.3e-15\nseconds 5\nstatus gap") != []


def test_output_blocks_are_found():
    pairs = [(b.number, _output_block(b)) for b in BASH if not b.skipped]
    with_output = [n for n, out in pairs if out is not None]
    assert len(with_output) >= 5, f"bash blocks with a pasted output: {with_output}"


def test_not_too_many_blocks_skipped():
    skipped = [b.where() for b in BLOCKS if b.skipped]
    assert len(skipped) <= MAX_SKIPPED, f"{len(skipped)} skipped blocks: {skipped}"
    bash_skipped = sum(b.skipped for b in BASH)
    assert 2 * bash_skipped <= len(BASH), (
        f"{bash_skipped} of {len(BASH)} bash blocks skipped"
    )
    assert len(PYTHON) >= 4, f"only {len(PYTHON)} runnable python blocks"


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    """Run the Python blocks in one namespace in a fresh folder; return it."""
    folder = tmp_path_factory.mktemp("readme")
    cwd = Path.cwd()
    namespace: dict = {"__name__": "__readme__"}
    failures, started = [], time.perf_counter()
    os.chdir(folder)
    try:
        for block in PYTHON:
            try:
                exec(compile(block.code, block.where(), "exec"), namespace)
            except Exception as exc:  # reported with the block
                failures.append(f"{block.where()}: {type(exc).__name__}: {exc}")
                break
    finally:
        os.chdir(cwd)
    return folder, failures, time.perf_counter() - started


def test_readme_python_blocks_run(readme_run):
    _, failures, seconds = readme_run
    assert not failures, failures[0]
    assert seconds < 20, f"README python blocks took {seconds:.1f} s (budget 20 s)"


def test_readme_bash_blocks_run(readme_run):
    folder, failures, _ = readme_run
    assert not failures, f"needs the Python blocks: {failures[0]}"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path}  # the bnconvex script of this Python
    for block in (b for b in BASH if not b.skipped):
        proc = subprocess.run(
            ["bash", "-e", "-c", block.code],
            cwd=folder,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, (
            f"{block.where()} exited {proc.returncode}:\n{proc.stdout}"
        )
        expected = _output_block(block)
        if expected is not None:
            bad = output_mismatches(expected, proc.stdout)
            assert not bad, (
                f"{block.where()} output differs from {expected.where()}: {bad}"
            )


# --- docs/claims.md: the claim table, generated from the registry -------------

CLAIMS_MD = README.parent / "docs" / "claims.md"
TABLE_BEGIN = (
    "<!-- claims table: generated by `python tests/test_docs.py`; do not edit -->"
)
TABLE_END = "<!-- end of claims table -->"


def claims_table() -> str:
    """The Markdown table of every registered claim (as ``bnconvex list``)."""
    import bnconvex.verify.claims  # noqa: F401 - registers the claims
    from bnconvex.verify.registry import all_claims

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    def ref(text: str) -> str:
        """``docs/theory.md#A rest`` as a link relative to docs/claims.md."""
        target, _, rest = text.partition(" ")
        if not target.startswith("docs/theory.md#"):
            return cell(text)
        link = target.removeprefix("docs/")
        return f"[{link}]({link})" + (f" {cell(rest)}" if rest else "")

    rows = ["| id | paper reference | tag | tiers | title |", "|---|---|---|---|---|"]
    rows += [
        f"| `{c.id}` | {ref(c.paper_ref)} | {c.paper_tag} | {', '.join(c.tiers)} "
        f"| {cell(c.title)} |"
        for c in all_claims()
    ]
    return "\n".join(rows)


def _with_table(text: str, table: str) -> str:
    head, rest = text.split(TABLE_BEGIN)
    _, tail = rest.split(TABLE_END)
    return f"{head}{TABLE_BEGIN}\n{table}\n{TABLE_END}{tail}"


def test_claims_md_lists_every_registered_claim():
    text = CLAIMS_MD.read_text(encoding="utf-8")
    assert text == _with_table(text, claims_table()), (
        "docs/claims.md is out of date with the claim registry: "
        "run `python tests/test_docs.py` to regenerate its table"
    )


if __name__ == "__main__":
    CLAIMS_MD.write_text(
        _with_table(CLAIMS_MD.read_text(encoding="utf-8"), claims_table()),
        encoding="utf-8",
    )
    print(f"wrote {CLAIMS_MD}")


# --- relative links between the Markdown files --------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


_HTML_ANCHOR = re.compile(r'<a (?:id|name)="([^"]+)"')


def _anchors(path: Path) -> set[str]:
    """Heading slugs and explicit ``<a id="...">`` anchors of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    slugs = {_slug(ln.lstrip("#")) for ln in lines if ln.startswith("#")}
    return slugs | set(_HTML_ANCHOR.findall(text))


def test_anchors_include_explicit_ones(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text('# Top\n### <a id="bn-scale_invariance"></a>bn.scale x\n')
    anchors = _anchors(doc)
    assert {"top", "bn-scale_invariance"} <= anchors


def test_slug_matches_github():
    assert _slug(" `bnconvex train`") == "bnconvex-train"
    assert (
        _slug(" What the paper leaves unconfirmed")
        == "what-the-paper-leaves-unconfirmed"
    )


@pytest.mark.parametrize(
    "doc",
    [README, *sorted((README.parent / "docs").glob("*.md"))],
    ids=lambda p: p.name,
)
def test_relative_links_resolve(doc):
    broken = []
    for target in _LINK.findall(doc.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists():
            broken.append(f"{target}: no file {path}")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {path.name}")
    assert not broken, f"{doc.name}: {broken}"


# --- the doctest collection of the root conftest.py ---------------------------

_IMPORT_ALL = """
import importlib, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from conftest import installed_module_name
dirs = [Path({root!r}, d) for d in ("theory", "numerics", "verify")]
files = [p for d in dirs for p in d.rglob("*.py")]
names = sorted(filter(None, map(installed_module_name, files)))
for name in names:
    importlib.import_module(name)
print(len(names), [m for m in {optional!r} if m in sys.modules])
"""


def test_doctest_collection_imports_no_optional_dependency():
    """Every module the doctests import loads without PyTorch, CuPy, Dask, sklearn."""
    optional = ("torch", "cupy", "dask", "distributed", "sklearn")
    code = _IMPORT_ALL.format(root=str(README.parent), optional=optional)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, loaded = proc.stdout.split(" ", 1)
    assert int(count) >= 60, f"only {count} package modules found"
    assert loaded.strip() == "[]", f"optional packages imported: {loaded}"


# --- every command-line option is documented --------------------------------

CLI_MD = README.parent / "docs" / "cli.md"


def _subcommand_parsers() -> dict:
    import argparse

    from bnconvex.app.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _cli_sections(text: str) -> dict[str, str]:
    """Each ``## `bnconvex NAME ...``` section, heading included, by NAME."""
    parts = re.split(r"^(?=## )", text, flags=re.M)
    heads = [re.match(r"## `bnconvex (\w+)", part) for part in parts]
    return {h.group(1): part for h, part in zip(heads, parts, strict=True) if h}


def test_cli_md_documents_every_option():
    text = CLI_MD.read_text(encoding="utf-8")
    common = text.split("\n## ", 1)[0]  # the rules shared by all commands
    sections = _cli_sections(text)
    missing = []
    for name, sub in _subcommand_parsers().items():
        assert name in sections, f"docs/cli.md has no section for `bnconvex {name}`"
        for action in sub._actions:
            for option in action.option_strings:
                if not option.startswith("--") or option == "--help":
                    continue
                pattern = re.escape(option) + r"(?![\w-])"
                if not re.search(pattern, sections[name] + common):
                    missing.append(f"{name} {option}")
    assert not missing, f"options missing from docs/cli.md: {missing}"


def test_cli_section_split_sees_a_missing_option():
    text = "intro\n## `bnconvex a X`\n`--x` y\n## `bnconvex b`\nz\n## Other\n--x\n"
    sections = _cli_sections(text)
    assert sections == {
        "a": "## `bnconvex a X`\n`--x` y\n",
        "b": "## `bnconvex b`\nz\n",
    }
    assert not re.search(re.escape("--x") + r"(?![\w-])", sections["b"])


# --- docs/theory.md names only code that exists --------------------------------

THEORY_MD = README.parent / "docs" / "theory.md"


def test_theory_md_names_existing_code():
    """Every `numerics.NAME` / `theory.MODULE` that theory.md cites resolves."""
    import importlib

    import bnconvex.numerics

    text = THEORY_MD.read_text(encoding="utf-8")
    missing = []
    for name in sorted(set(re.findall(r"`numerics\.([\w.]+)", text))):
        obj = bnconvex.numerics
        for part in name.split("."):
            obj = getattr(obj, part, None) or _submodule(obj, part)
            if obj is None:
                missing.append(f"numerics.{name}")
                break
    for name in sorted(set(re.findall(r"`theory\.(\w+)`", text))):
        try:
            importlib.import_module(f"bnconvex.theory.{name}")
        except ModuleNotFoundError:
            missing.append(f"theory.{name}")
    assert not missing, f"docs/theory.md names code that does not exist: {missing}"


def _submodule(package, name: str):
    """``package.name`` imported as a submodule, or None."""
    import importlib

    try:
        return importlib.import_module(f"{package.__name__}.{name}")
    except (ModuleNotFoundError, AttributeError):
        return None
