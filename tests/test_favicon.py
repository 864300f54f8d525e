"""The site has an icon: every page links one that exists, and /favicon.ico exists for
what does not read the links (the root index.html is a bare redirect), so no browser
logs a 404 for it.

The checks of the built site need `make book` first (`make test` runs it): without
_build/html they skip, or fail under CI=true.
"""
import os
import re
import struct
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / '_build' / 'html'
SOURCE = REPO / '_theme' / 'favicon.svg'
ICO = REPO / '_theme' / 'site-root' / 'favicon.ico'
REDIRECT = re.compile(r'<meta http-equiv="refresh"', re.IGNORECASE)


def test_the_configured_favicon_exists_and_is_an_svg():
    config = (REPO / '_config.yml').read_text()
    assert '  favicon: _theme/favicon.svg\n' in config
    assert 'html_extra_path: ["_theme/site-root"]' in config
    root = ET.parse(SOURCE).getroot()
    assert root.tag == '{http://www.w3.org/2000/svg}svg'
    assert root.get('viewBox') == '0 0 32 32'


def ico_sizes(raw):
    """The image sizes in an .ico file (PNG-compressed entries), checking its structure."""
    reserved, kind, count = struct.unpack_from('<HHH', raw)
    assert (reserved, kind) == (0, 1) and count >= 1
    sizes = []
    for i in range(count):
        w, h, _, _, planes, bits, length, offset = struct.unpack_from('<BBBBHHII', raw, 6 + 16 * i)
        png = raw[offset:offset + length]
        assert len(png) == length and png[:8] == b'\x89PNG\r\n\x1a\n'
        assert struct.unpack('>II', png[16:24]) == (w or 256, h or 256)
        sizes.append(w or 256)
    return sizes


def test_the_root_favicon_ico_is_a_valid_icon():
    assert ico_sizes(ICO.read_bytes()) == [16, 32, 48]


@pytest.fixture(scope='module')
def site():
    if not (SITE / 'index.html').is_file():
        reason = f"{SITE.relative_to(REPO)} has not been built: run `make book` first"
        if os.environ.get('CI') == 'true':
            pytest.fail(f"{reason} (CI=true: every test must run)", pytrace=False)
        pytest.skip(reason)
    return SITE


class IconLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'link' and 'icon' in (attrs.get('rel') or '').lower().split():
            self.hrefs.append(attrs.get('href') or '')


def pages(site):
    return sorted(p for p in site.rglob('*.html') if '_static' not in p.relative_to(site).parts)


@pytest.mark.site
def test_the_site_ships_the_favicon(site):
    assert (site / '_static' / 'favicon.svg').read_bytes() == SOURCE.read_bytes()
    assert (site / 'favicon.ico').read_bytes() == ICO.read_bytes()


@pytest.mark.site
def test_every_page_links_an_icon_that_resolves_to_a_file(site):
    found = pages(site)
    assert site / 'index.html' in found and len(found) >= 5
    linked = 0
    for page in found:
        html = page.read_text(encoding='utf-8')
        parser = IconLinks()
        parser.feed(html)
        where = page.relative_to(site)
        if not parser.hrefs and REDIRECT.search(html) and len(html) < 500:
            continue  # a bare redirect (the root index.html): /favicon.ico serves it
        assert parser.hrefs, f"{where}: no <link rel=icon>"
        for href in parser.hrefs:
            url = urlsplit(href)
            assert not url.scheme and not url.netloc, f"{where}: icon {href} is not part of the site"
            target = (page.parent / unquote(url.path)).resolve()
            assert target.is_file(), f"{where}: icon {href} -> {target} does not exist"
            assert target.is_relative_to(site.resolve()), f"{where}: icon {href} is outside the site"
            linked += 1
    assert linked >= len(found) - 1
