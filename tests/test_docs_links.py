"""The docs stand alone in a clone: every link and cited page is in the repository.

Checked in README.md and every file under docs/:
- a relative Markdown link (`[text](path)`, `![alt](path)`, `[label]: path`)
  must name a file or directory of the repository, resolved from the linking
  file's directory as a Markdown viewer does (an anchor or query is ignored;
  `http:`, `https:`, `mailto:` links and bare `#anchors` are not checked);
- no link, and no path written anywhere in the text (code included), may
  leave the repository with `../`; a path outside a link is resolved from the
  repository root (how the docs write paths: `tests/test_runtime.py`) and from
  the file's directory, and must stay inside from both;
- no citation of the team documents that are not in the repository
  (`DESIGN.md`, `DESIGN §…`, `fsx-dsl.md`): cite docs/runbook.md,
  docs/fsx.md or a section of docs/design.md instead;
- a cited section of docs/fsx.md (`fsx.md … §4.4`) exists there, and every
  invariant the docs, the code or the tests cite by number ("invariant 6")
  is one docs/runbook.md states.

README.md has its own test functions, so that its state shows on its own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted(p for p in (ROOT / "docs").rglob("*") if p.is_file() and "__pycache__" not in p.parts)

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"  # [text], one level of [] inside
                         r"\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")  # (target "title")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.M)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
UP_PATH = re.compile(r"[\w.~/-]*\.\./[\w.~/-]*")
TEAM_DOCS = re.compile(r"\bDESIGN\.md\b|\bDESIGN\s+§|\b(?i:fsx-dsl)(?:\.md)?\b")  # not docs/design.md
FSX_SECTION = re.compile(r"\bfsx\.md\)?,?\s+§\s*(\d+(?:\.\d+)*)")
INVARIANTS_CITED = re.compile(r"\binvariants?\s+(\d+(?:\s*(?:,|and|&)\s*\d+)*)", re.I)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _prose(text: str) -> str:
    """The text with fenced code blocks and code spans blanked (newlines kept), so that a
    `[x](y)` shown as code is not taken for a link and line numbers still match."""
    def blank(m: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))
    return CODE_SPAN.sub(blank, FENCE.sub(blank, text))


def _inside(path: Path) -> bool:
    try:
        path.resolve().relative_to(ROOT)
        return True
    except ValueError:
        return False


def _link_targets(text: str) -> list[tuple[str, int]]:
    """Each link target of the text, with its offset, in text order (code is not looked at)."""
    prose = _prose(text)
    targets = [(m.group(1), m.start(1)) for m in INLINE_LINK.finditer(prose)]
    targets += [(m.group(1), m.start(1)) for m in REFERENCE_DEF.finditer(prose)]
    return sorted(targets, key=lambda t: t[1])


def link_problems(page: Path) -> list[str]:
    """Relative links that leave the repository or name nothing in it."""
    text = page.read_text(encoding="utf-8")
    out = []
    for raw, at in _link_targets(text):
        target = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
        if SCHEME.match(target) or target.startswith("#") or not target:
            continue
        path = unquote(re.split(r"[#?]", target, maxsplit=1)[0])
        if not path:
            continue
        where = f"{page.relative_to(ROOT)}:{_line(text, at)}: link `{target}`"
        resolved = (ROOT / path.lstrip("/")) if path.startswith("/") else page.parent / path
        if not _inside(resolved):
            out.append(f"{where} leaves the repository")
        elif not resolved.exists():
            out.append(f"{where} names no file in the repository ({resolved.relative_to(ROOT)})")
    return out


def path_problems(page: Path) -> list[str]:
    """Paths anywhere in the text (code too) that climb out of the repository with `../`."""
    text = page.read_text(encoding="utf-8")
    links = [range(at, at + len(raw)) for raw, at in _link_targets(text)]  # checked as links
    out = []
    for m in UP_PATH.finditer(text):
        token = m.group(0)
        if any(m.start() in span for span in links):
            continue
        bases = {ROOT, page.parent}
        if any(not _inside(Path(os.path.normpath(base / token))) for base in bases):
            out.append(f"{page.relative_to(ROOT)}:{_line(text, m.start())}: path `{token}` leaves the repository")
    return out


def citation_problems(page: Path) -> list[str]:
    """Citations of the team documents that are not in the repository."""
    text = page.read_text(encoding="utf-8")
    return [f"{page.relative_to(ROOT)}:{_line(text, m.start())}: cites `{' '.join(m.group(0).split())}`, "
            "which is not in the repository (cite docs/runbook.md, docs/fsx.md or docs/design.md)"
            for m in TEAM_DOCS.finditer(text)]


def fsx_section_problems(page: Path) -> list[str]:
    """`fsx.md … §N.N` citations of a section docs/fsx.md does not have."""
    text = page.read_text(encoding="utf-8")
    have = set(re.findall(r"^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s", (ROOT / "docs" / "fsx.md").read_text(encoding="utf-8"),
                          re.M))
    return [f"{page.relative_to(ROOT)}:{_line(text, m.start())}: cites docs/fsx.md §{m.group(1)}, "
            f"which has no such section (it has {', '.join(sorted(have))})"
            for m in FSX_SECTION.finditer(text) if m.group(1) not in have]


def problems(page: Path) -> list[str]:
    return link_problems(page) + path_problems(page) + citation_problems(page) + fsx_section_problems(page)


def test_the_docs_have_the_pages_that_replace_the_team_documents() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in DOCS}
    assert {"docs/runbook.md", "docs/fsx.md", "docs/design.md"} <= names, names


@pytest.mark.parametrize("page", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_docs_links_and_citations_stay_in_the_repository(page: Path) -> None:
    assert problems(page) == []


def test_readme_links_and_citations_stay_in_the_repository() -> None:
    assert problems(README) == []


def test_readme_points_to_the_runbook_and_the_fsx_reference() -> None:
    """The pages that replace the team documents are reachable from the README."""
    text = README.read_text(encoding="utf-8")
    assert [page for page in ("docs/runbook.md", "docs/fsx.md") if page not in text] == []


def _invariants_stated() -> set[int]:
    text = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    section = text[text.index("## The invariants"):]
    section = section[:section.find("\n## ", 1)] if "\n## " in section[1:] else section
    return {int(n) for n in re.findall(r"^(\d+)\.\s+\*\*", section, re.M)}


def test_every_invariant_cited_by_number_is_one_the_runbook_states() -> None:
    stated = _invariants_stated()
    assert stated == set(range(1, len(stated) + 1)) and len(stated) >= 11, stated
    files = [README, *DOCS, *sorted((ROOT / "mig").rglob("*.py")), *sorted((ROOT / "tests").glob("*.py"))]
    unknown = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        for m in INVARIANTS_CITED.finditer(text):
            for n in map(int, re.findall(r"\d+", m.group(1))):
                if n not in stated:
                    unknown.append(f"{f.relative_to(ROOT)}:{_line(text, m.start())}: invariant {n}")
    assert unknown == []


def test_the_checks_catch_what_they_are_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks themselves, on a small fake repository."""
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "tests" / "t.py").write_text("")
    (root / "docs" / "fsx.md").write_text("## 4. Rules\n\n### 4.4 Defaults\n")
    monkeypatch.setitem(globals(), "ROOT", root)
    page = root / "docs" / "page.md"
    page.write_text(
        "[ok](fsx.md#rules) [ok too](../tests/t.py) [web](https://example.com) [top](#x) docs/design.md\n"
        "[gone](missing.md) ![img](../../outside.png)\n"
        "[ref]: ../../far.md\n"
        "`[not a link](nowhere.md)` and `../shared/fsx-examples` in code\n"
        "```\n[also code](nowhere.md)\n```\n"
        "see DESIGN.md §2, DESIGN\n§7 and `fsx-dsl.md` §4.4; fsx.md §4.4 is fine, fsx.md §9.1 is not\n")
    found = problems(page)
    assert [p.split(": ", 1)[0] for p in found] == [
        "docs/page.md:2", "docs/page.md:2", "docs/page.md:3", "docs/page.md:4",
        "docs/page.md:8", "docs/page.md:8", "docs/page.md:9", "docs/page.md:9"], found
    text = "\n".join(found)
    assert "`missing.md` names no file" in text and "`../../outside.png` leaves" in text
    assert "`../../far.md` leaves" in text and "`../shared/fsx-examples` leaves" in text
    assert "nowhere.md" not in text and "rules" not in text and "t.py" not in text
    assert "cites `DESIGN.md`" in text and "cites `DESIGN §`" in text and "cites `fsx-dsl.md`" in text
    assert "§9.1" in text and "§4.4, which" not in text
