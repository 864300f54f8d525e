"""What the browser tests share: where Chromium is, how it is started, and a local server.

Chromium is /usr/bin/chromium (MICRODNB_CHROMIUM overrides; `make browser-deps` installs
Debian's). Without it the browser tests skip, saying why, except under CI=true, where
they fail: there the claim they check must be checked.
"""
import contextlib
import functools
import http.server
import os
import threading

import pytest

CHROMIUM = os.environ.get('MICRODNB_CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync']


def require_chromium():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        msg = f"{CHROMIUM} not found: `make browser-deps` installs Debian's chromium"
        if os.environ.get('CI') == 'true':
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


@contextlib.contextmanager
def serve(directory):
    """Serve `directory` on 127.0.0.1 (a free port) while the block runs; yields the origin."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f'http://127.0.0.1:{httpd.server_address[1]}'
    finally:
        httpd.shutdown()
        httpd.server_close()


def launch(playwright):
    """Headless Chromium with the flags this machine's closed network needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def launch_persistent(playwright, profile_dir, **options):
    """The same Chromium as `launch`, as one persistent context with its profile in
    `profile_dir` (the site test opens every page of the book in it); `options` go to
    playwright's launch_persistent_context (viewport, ...)."""
    return playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **options)
