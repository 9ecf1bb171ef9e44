"""clean_text on the real corpus and on small made-up texts; line_map checked word by word."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from assistant.cleaning import CleanText, clean_text

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.txt"))
WORD = re.compile(r"\w+")


def corpus(name: str) -> tuple[str, CleanText]:
    raw = (CORPUS / name).read_text(encoding="utf-8")
    return raw, clean_text(raw)


def section(text: str, heading: str) -> str:
    """The text under `heading` up to the next heading line."""
    start = text.index(heading + "\n") + len(heading) + 1
    following = re.search(r"^#", text[start:], flags=re.MULTILINE)
    return text[start : start + following.start()] if following else text[start:]


def items(text: str) -> list[str]:
    return [line[2:] for line in text.splitlines() if line.startswith("- ")]


def original_text(raw: str, first: int, last: int) -> str:
    """Original lines first..last (1-based), with words split by a line-end hyphen rejoined."""
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")[first - 1 : last]
    return re.sub(r"(?<=[A-Za-z])-\n(?=[a-z])", "", "\n".join(lines))


def assert_span_maps_back(raw: str, clean: CleanText, start: int, end: int) -> None:
    first, last = clean.line_span(start, end)
    assert 1 <= first <= last
    source = original_text(raw, first, last)
    for word in WORD.findall(clean.text[start:end]):
        assert word in source, f"{word!r} of cleaned {clean.text[start:end]!r} not in lines {first}-{last}"


# line_map ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_line_map_is_sorted_and_in_range(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    clean = clean_text(raw)
    offsets = [offset for offset, _ in clean.line_map]
    assert offsets == sorted(set(offsets)) and offsets[0] == 0 and offsets[-1] < len(clean.text)
    assert all(1 <= line <= raw.count("\n") + 1 for _, line in clean.line_map)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_every_word_maps_back_to_its_original_line(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    clean = clean_text(raw)
    for match in WORD.finditer(clean.text):
        assert_span_maps_back(raw, clean, match.start(), match.end())


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_random_spans_map_back_to_original_lines(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    clean = clean_text(raw)
    rng = random.Random(path.name)
    for _ in range(300):
        start = rng.randrange(len(clean.text))
        end = min(len(clean.text), start + rng.randint(1, 1500))
        assert_span_maps_back(raw, clean, start, end)


def test_line_at_outside_the_text() -> None:
    clean = clean_text("First paragraph.\n\nSecond paragraph.")
    assert clean.line_at(-5) == 1 and clean.line_at(10**6) == 3
    assert clean_text("").line_at(0) == 1


# Small made-up texts -------------------------------------------------------------------------


def test_hard_wrapped_paragraphs_are_joined_and_separated() -> None:
    raw = (
        "The council faces ongoing serious governance and accountability issues, following\n"
        "the previous external auditor's Public Interest Report issued during 2016 which\n"
        "related to concerns about the management of a number of major projects.\n"
        "Like all other councils Derby has faced widespread budget cuts. This has amounted\n"
        "to a loss of £135m since 2010 with more needed.\n"
        "The council can evidence a significant amount of achievement.\n"
    )
    clean = clean_text(raw)
    paragraphs = clean.text.split("\n\n")
    assert paragraphs[0].startswith("The council faces ongoing serious governance and accountability issues, following the")
    assert "the management of a number of major projects. Like all other councils" in paragraphs[0]
    assert paragraphs[1:] == ["The council can evidence a significant amount of achievement."]


def test_words_split_across_lines_are_rejoined() -> None:
    raw = (
        "The peer team reviewed the governance arrange-\n"
        "ments of the council and found them sound in most respects, with the exception\n"
        "of member-officer relationships.\n"
    )
    clean = clean_text(raw)
    assert "governance arrangements of the council" in clean.text
    assert "member-officer" in clean.text
    offset = clean.text.index("arrangements")
    assert clean.line_span(offset, offset + len("arrangements")) == (1, 2)


def test_markdown_emphasis_removed_and_structure_kept() -> None:
    raw = "## 4.1 Understanding of place\n\n1. **Close the accounts.** Progress is needed.\n* a __bold__ point\n"
    assert clean_text(raw).text == (
        "## 4.1 Understanding of place\n\n1. Close the accounts. Progress is needed.\n- a bold point"
    )


def test_windows_line_breaks_keep_line_numbers() -> None:
    clean = clean_text("Title line here\r\n\r\nA paragraph on line three.\r\n")
    assert clean.text == "### Title line here\n\nA paragraph on line three."
    assert clean.line_at(clean.text.index("A paragraph")) == 3


def test_page_numbers_dropped_and_page_broken_lists_rejoined() -> None:
    raw = (
        "Executive summary text that runs to the end of a page and then stops.\n"
        " 7\n"
        "\n"
        "The next page starts with a fresh paragraph of text.\n"
        "Page 8 of 12\n"
    )
    text = clean_text(raw).text
    assert "7" not in text and "Page 8" not in text
    assert "The next page starts with a fresh paragraph of text." in text


def test_bullet_glyphs_from_pdf_fonts_and_on_their_own_line() -> None:
    raw = (
        "Key findings\n"
        "\uf0b7 Good leadership across the council\n"
        "\uf0b7 Strong partnerships with the NHS and\n"
        "the voluntary sector\n"
        "\n"
        "The council told us:\n"
        "•\n"
        "First point made here\n"
        "•\n"
        "Second point\n"
    )
    assert clean_text(raw).text == (
        "### Key findings\n\n"
        "- Good leadership across the council\n"
        "- Strong partnerships with the NHS and the voluntary sector\n\n"
        "The council told us:\n\n"
        "- First point made here\n"
        "- Second point"
    )


def test_numbered_section_headings_followed_directly_by_text() -> None:
    raw = (
        "1. Executive summary\n"
        "The council has strong leadership and a clear vision for the city which is shared by partners.\n"
        "2. Key recommendations\n"
        "There are a range of suggestions and observations within the main section of this report.\n"
    )
    lines = clean_text(raw).text.splitlines()
    assert "# 1. Executive summary" in lines and "# 2. Key recommendations" in lines


def test_table_rows_kept_one_per_line() -> None:
    raw = "| Year | Budget |\n| --- | --- |\n| 2017 | £215m |\nAfter the table.\n"
    assert clean_text(raw).text == "| Year | Budget |\n| --- | --- |\n| 2017 | £215m |\n\nAfter the table."


def test_single_asterisk_emphasis_removed_but_bullets_kept() -> None:
    assert clean_text("This is *really* important.\n* a bullet\n").text == "This is really important.\n\n- a bullet"


@pytest.mark.parametrize("raw", ["", "\n\n\n", "•", "12", "-", "SHARE THIS STORY:", "a-\nb", "\r\n \r\n"])
def test_degenerate_inputs(raw: str) -> None:
    clean = clean_text(raw)
    assert len(clean.line_map) <= max(1, len(clean.text))


def test_shuffled_corpus_lines_still_map_back() -> None:
    """Any mix of lines, glyphs, page numbers and blank runs: no crash, and every word maps back."""
    rng = random.Random(7)
    pool = [line for path in CORPUS_FILES for line in path.read_text(encoding="utf-8").split("\n")]
    pool += ["", "", "", " 3.", "5", "•", "\uf0b7 An item", "Page 4 of 9", "The peer team", "arrange-"]
    for _ in range(30):
        raw = "\n".join(rng.choice(pool) for _ in range(rng.randint(1, 120)))
        clean = clean_text(raw)
        for match in WORD.finditer(clean.text):
            assert_span_maps_back(raw, clean, match.start(), match.end())


# The real corpus -----------------------------------------------------------------------------

DERBY_RECOMMENDATIONS = [
    "Close the 2015/16 and 2016/17 accounts.",
    "Review the capability of the finance function.",
    "Review and strengthen corporate capacity",
    "Seek external support to improve member-member relationships",
    "Re-establish the Derby Plan as the single plan for Derby",
    "Focus on a smaller number of key priorities.",
    "Consistently engage with key partnerships",
    "Strengthen your approach to community engagement",
    "Commit to a workforce development plan",
    "Develop a robust financial strategy urgently",
    "Develop a clear approach to commercialism",
]


def test_derby_pdf_extract_headings() -> None:
    _, clean = corpus("derby-city-2017-peer-challenge-report.txt")
    lines = clean.text.splitlines()
    for heading in [
        "# 1. Executive Summary",
        "# 2. Key recommendations",
        "# 4. Feedback",
        "# 5. Next steps",
        "## 4.1 Understanding of the local place and priority setting",
        "## 4.3 Organisational leadership and governance",
        "## 4.6 Delivering achievements under the council’s ambition",
        "### The peer team",
        "### Scope and focus",
        "### The peer challenge process",
        "### Follow up visit",
    ]:
        assert heading in lines


def test_derby_pdf_extract_page_numbers_and_stray_spaces_gone() -> None:
    _, clean = corpus("derby-city-2017-peer-challenge-report.txt")
    assert not re.search(r"^\s*\d{1,3}\.?\s*$", clean.text, flags=re.MULTILINE)
    assert not re.search(r"^ ", clean.text, flags=re.MULTILINE)
    assert "\n\n\n" not in clean.text and not clean.text.endswith("\n")


def test_derby_key_recommendations_become_eleven_items() -> None:
    _, clean = corpus("derby-city-2017-peer-challenge-report.txt")
    recommendations = items(section(clean.text, "# 2. Key recommendations"))
    assert len(recommendations) == 11
    for item, start in zip(recommendations, DERBY_RECOMMENDATIONS):
        assert item.startswith(start)
    assert recommendations[3].endswith("would help to improve relationships. The LGA can assist with this.")


def test_derby_lists_without_glyphs_become_items() -> None:
    _, clean = corpus("derby-city-2017-peer-challenge-report.txt")
    team = items(section(clean.text, "### The peer team"))
    assert len(team) == 8
    assert team[0] == "Kersten England, Chief Executive, Bradford City Council"
    assert team[6] == "Helen Isaacs, Director of Governance, Democracy and Community Engagement, North East Lincolnshire Council"
    visit = items(section(clean.text, "### The peer challenge process"))
    assert [item.split()[0] for item in visit] == ["Spoke", "Gathered", "Collectively"]
    pledges = [line for line in clean.text.splitlines() if line.startswith("- ")]
    assert "- Investment in the Assembly Rooms, Debenhams and Duckworth Square sites to increase city centre footfall by 10% by 2025" in pledges
    # An item filling a whole line ends where the next starts with a word the report also writes in lower
    # case ("Improving…"); a capital after a line stopping mid-phrase ("…centre at") continues a name.
    achievements = [line for line in clean.text.splitlines() if line.startswith("- ")]
    assert "- The overall effectiveness of Children’s Services is judged to be good by Ofsted" in achievements
    assert "- The successful refurbishment of The Council House into a modern workplace" in achievements
    assert any(line.startswith("- Improving educational attainment at NVQ level 4") for line in achievements)
    assert any("innovation centre at Infinity Park Hub; a new bus station" in line for line in achievements)


def test_derby_numbered_questions_stay_numbered() -> None:
    _, clean = corpus("derby-city-2017-peer-challenge-report.txt")
    body = section(clean.text, "### Scope and focus")
    numbered = [line for line in body.splitlines() if re.match(r"\d\. ", line)]
    assert [line[:2] for line in numbered] == ["1.", "2.", "3.", "4.", "5.", "6."]
    assert numbered[0].endswith("inform a clear vision and set of priorities?")


def test_derby_paragraphs_joined() -> None:
    _, clean = corpus("derby-city-2017-peer-challenge-report.txt")
    assert (
        "\n\nThere is clear pride in being associated with Derby at all levels of the council, across the city "
        "and its communities. Councillors and staff are clearly committed" in clean.text
    )
    # A new paragraph after a short line that ends a sentence, even across a page break.
    assert "creating new jobs.\n\nHowever there are also a number of perceptions" in clean.text


def test_derbyshire_report_structure() -> None:
    _, clean = corpus("derbyshire-county-2018-peer-challenge-report.txt")
    lines = clean.text.splitlines()
    for number, title in enumerate(
        ["Executive Summary", "Key recommendations", "Summary of the Peer Challenge approach", "Feedback", "Next steps"],
        start=1,
    ):
        assert f"# {number}. {title}" in lines
    for sub in range(1, 7):
        assert any(line.startswith(f"## 4.{sub} ") for line in lines)
    assert "### Leadership of the county and beyond" in lines
    assert "**" not in clean.text
    assert "1. Undertake more work on the Enterprising Council concept. Enterprising Council" in clean.text
    assert "- a. Further define its role and purpose" in lines
    assert "- Wendy Thomson, Managing Director, Norfolk County Council" in lines


def test_derbyshire_paragraphs_split_by_page_breaks_rejoined() -> None:
    _, clean = corpus("derbyshire-county-2018-peer-challenge-report.txt")
    assert "concepts of Enterprising Council and One Council. These are at an early stage" in clean.text
    assert "members should expect to receive the information they need" in clean.text


def test_web_page_navigation_junk_dropped() -> None:
    raw, clean = corpus("derbyshire-county-2019-peer-challenge-web-page.txt")
    assert "Skip to content" in raw
    for junk in ["Skip to content", "Untitled", "Fill 1", "icon", "Group 3"]:
        assert junk not in clean.text
    assert clean.text.startswith("### Corporate peer challenge\n\nWe invited a small team")
    lines = clean.text.splitlines()
    assert "- Good approach to running the council." in lines
    assert "- raising the profile of health and social care integration" in lines
    assert "•" not in clean.text


def test_news_story_share_footer_dropped() -> None:
    _, clean = corpus("derbyshire-county-2018-enterprising-council-news.txt")
    assert "SHARE" not in clean.text.upper()
    assert clean.text.endswith("considered by the council’s Cabinet in the future.")
    assert "- Occupational health – a small service that provides support to employees and their managers." in clean.text


def test_press_release_bullets() -> None:
    _, clean = corpus("derby-city-2017-press-release.txt")
    found = items(clean.text)
    assert len(found) == 8 and "•" not in clean.text
    assert found[-1] == "Commit to a workforce development plan to embed behaviours and culture."
