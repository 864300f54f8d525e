"""The built book's HTML, read as files (no browser): every page of the table of contents
was built, each chapter offers its notebook and a Binder link to it, every <img> has a real
alternative text (or is marked decorative), headings nest and links say where they go,
and a chapter with a trainer stays under 700 kB.
The pages in Chromium: test_site_pages.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from site_pages import ALL_PAGES, PAGES, ROOT, _Images, _Outline, bad_alt, site  # noqa: F401 (site: the fixture)

pytestmark = pytest.mark.site


def test_toc_pages_all_built(site):
    missing = [p for p in PAGES if not (site / f"{p}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no built HTML: {missing}"


def test_chapters_offer_notebook_download(site):
    """Each chapter page offers its .ipynb (download button) and the file is in the site."""
    for p in PAGES:
        if not (ROOT / f"{p}.ipynb").is_file():
            continue
        html = (site / f"{p}.html").read_text(encoding="utf-8")
        name = Path(p).name + ".ipynb"
        assert name in html, f"{p}: no .ipynb download offered"
        assert list(site.glob(f"_sources/**/{name}")), f"{p}: {name} missing from the built site"


def test_chapters_offer_a_binder_launch_button(site):
    """Each chapter page links to Binder (configured in _config.yml) for that very notebook."""
    for p in PAGES[1:]:
        if not (ROOT / f"{p}.ipynb").is_file():
            continue
        html = (site / f"{p}.html").read_text(encoding="utf-8")
        assert "mybinder.org/v2/gh/" in html, f"{p}: no Binder launch button"
        assert f"{p}.ipynb" in html.split("mybinder.org/v2/gh/", 1)[1][:400], \
            f"{p}: the Binder link does not open {p}.ipynb"


def test_built_images_have_alternative_text(site):
    """Every <img> written into the built HTML says what it shows (or is marked decorative)."""
    bad = []
    for name in ALL_PAGES:
        parser = _Images()
        parser.feed((site / f"{name}.html").read_text(encoding="utf-8"))
        bad += [f"{name}: {why}" for img in parser.images if (why := bad_alt(img))]
    assert not bad, "images without a real alternative text:\n" + "\n".join(bad)


GENERIC_LINK_TEXT = {"here", "click here", "link", "this", "more", "read more", "this link"}


def test_headings_nest_and_links_say_where_they_go(site):
    """One h1 per page, no heading level skipped on the way down (1.3.1, 2.4.6); every link
    in the content has a name that is not just "here" (2.4.4)."""
    bad = []
    for name in ALL_PAGES:
        outline = _Outline()
        outline.feed((site / f"{name}.html").read_text(encoding="utf-8"))
        # (Jupyter Book's print-only table of contents has an empty <h1>, never shown on screen)
        outline.headings = [(level, text) for level, text in outline.headings if text]
        levels = [level for level, _ in outline.headings]
        if levels.count(1) != 1:
            bad.append(f"{name}: {levels.count(1)} <h1> headings")
        for (a, ta), (b, tb) in zip(outline.headings, outline.headings[1:]):
            if b > a + 1:
                bad.append(f"{name}: <h{b}> {tb[:50]!r} right after <h{a}> {ta[:50]!r}")
        for attrs, text in outline.links:
            label = (attrs.get("aria-label") or text or attrs.get("title") or "").strip().lower()
            if not label:
                bad.append(f"{name}: a link with no name: {attrs.get('href')}")
            elif label.strip(".:") in GENERIC_LINK_TEXT:
                bad.append(f"{name}: a link named only {label!r}: {attrs.get('href')}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("page_name", ["book/04_training", "book/09_phase2", "book/13_gate"])
def test_a_page_with_a_trainer_stays_light(page_name, site):
    """Issue 18: a chapter with a trainer stays under 700 kB of HTML (the names travel
    gzipped; the figures of chapters 4 and 9 are palette PNGs, figures.display colors=)."""
    size = (site / f"{page_name}.html").stat().st_size
    assert size < 700_000, f"{page_name}.html is {size:,} bytes, over 700,000"
