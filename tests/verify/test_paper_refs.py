"""Every claim's paper reference points into docs/theory.md, never outside the repo.

``docs/theory.md`` gives each registered claim a heading
``### <a id="ANCHOR"></a>CLAIM.ID — title`` (``ANCHOR`` = the id with dots
replaced by dashes) with a ``*Tag:* `TAG``` line, and a row in its claim index.
A claim's ``paper_ref`` starts with ``docs/theory.md#ANCHOR``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import bnconvex.verify.claims  # noqa: F401 - registers the claims
import pytest
from bnconvex.verify.records import claim_metadata
from bnconvex.verify.registry import all_claims

ROOT = Path(__file__).resolve().parents[2]
THEORY = ROOT / "docs" / "theory.md"
_HEADING = re.compile(r'^### <a id="([^"]+)"></a>([\w.]+) — ', re.M)
_EXPLICIT_ANCHOR = re.compile(r'<a (?:id|name)="([^"]+)"')
_NEXT_HEADING = re.compile(r"^#{1,3} ", re.M)
#: a path inside the repository named in a reference (before any ``#anchor``)
_REPO_PATH = re.compile(r"\b((?:docs|numerics|theory|verify|benchmarks)/[\w./-]+)")
#: fragments that name files outside the repository
_OUTSIDE = ("paper.md", "../shared", "shared/paper", "design.md", "style.md")


def anchor_of(claim_id: str) -> str:
    """The explicit anchor of a claim's section: dots become dashes."""
    return claim_id.replace(".", "-")


def claim_sections(text: str) -> dict[str, tuple[str, str]]:
    """Claim id -> (anchor, section body up to the next heading) of a theory text."""
    out = {}
    for match in _HEADING.finditer(text):
        rest = text[match.end() :]
        end = _NEXT_HEADING.search(rest)
        out[match.group(2)] = (match.group(1), rest[: end.start() if end else None])
    return out


def section_tag(body: str) -> str | None:
    """The backticked tag of a section's ``*Tag:*`` line, if any."""
    match = re.search(r"\*Tag:\*\s*`([^`]+)`", body)
    return match.group(1) if match else None


def test_parser_reads_sections_and_tags():
    text = (
        '## Topic\n### <a id="a-b"></a>a.b — first\n\n*Tag:* `DERIVED`. x\n'
        '### <a id="c-d"></a>c.d — second\nno tag\n## Next\n'
    )
    sections = claim_sections(text)
    assert sorted(sections) == ["a.b", "c.d"]
    assert sections["a.b"][0] == "a-b"
    assert section_tag(sections["a.b"][1]) == "DERIVED"
    assert section_tag(sections["c.d"][1]) is None
    assert "Next" not in sections["c.d"][1]


@pytest.fixture(scope="module")
def theory_text() -> str:
    return THEORY.read_text(encoding="utf-8")


def test_every_claim_has_its_theory_section(theory_text):
    sections = claim_sections(theory_text)
    problems = []
    for claim in all_claims():
        if claim.id not in sections:
            problems.append(f"{claim.id}: no section in docs/theory.md")
            continue
        anchor, body = sections[claim.id]
        if anchor != anchor_of(claim.id):
            problems.append(f"{claim.id}: anchor {anchor!r} != {anchor_of(claim.id)!r}")
        if section_tag(body) != claim.paper_tag:
            problems.append(
                f"{claim.id}: tag {section_tag(body)!r} in docs/theory.md, "
                f"{claim.paper_tag!r} in the registry"
            )
    assert not problems, problems


def test_theory_sections_are_registered_claims(theory_text):
    registered = {c.id for c in all_claims()}
    stale = sorted(set(claim_sections(theory_text)) - registered)
    assert not stale, f"docs/theory.md has sections of unregistered claims: {stale}"


def test_claim_index_lists_every_claim_once(theory_text):
    index = theory_text.split("\n## Checkable claims\n", 1)[1].split("\n## ", 1)[0]
    missing = [
        c.id
        for c in all_claims()
        if index.count(f"| [`{c.id}`](#{anchor_of(c.id)}) | `{c.paper_tag}` |") != 1
    ]
    assert not missing, f"claims missing from the index of docs/theory.md: {missing}"


def test_paper_ref_points_to_an_existing_theory_anchor(theory_text):
    anchors = set(_EXPLICIT_ANCHOR.findall(theory_text))
    bad = []
    for claim in all_claims():
        target = f"docs/theory.md#{anchor_of(claim.id)}"
        ref = claim.paper_ref
        if not (ref == target or ref.startswith(target + " ")):
            bad.append(f"{claim.id}: {ref!r} does not start with {target!r}")
        elif anchor_of(claim.id) not in anchors:
            bad.append(f"{claim.id}: no <a id={anchor_of(claim.id)!r}> in theory.md")
        if any(fragment in ref for fragment in _OUTSIDE):
            bad.append(f"{claim.id}: {ref!r} names a file outside the repository")
    assert not bad, bad


def test_list_json_names_no_path_outside_the_repository():
    # exactly what `bnconvex list --json` prints, one line per claim
    out = "\n".join(json.dumps({"id": c.id, **claim_metadata(c)}) for c in all_claims())
    outside = [f for f in _OUTSIDE if f in out]
    assert not outside, f"`bnconvex list --json` names {outside}"
    missing = sorted(
        {
            path.rstrip(".")
            for path in _REPO_PATH.findall(out)
            if not (ROOT / path.split("#")[0].rstrip(".")).exists()
        }
    )
    assert not missing, f"`bnconvex list --json` names missing files: {missing}"
