"""The page's JavaScript and CSS, inlined into one notebook output: no bundler, nothing fetched.

The package's ES modules (the .js files beside this one) are joined into one script for an
inline ``<script type="module">``: each module is wrapped in a function that returns its
exports (``const __mdx_src_x = () => {...}; const __mdx_x = __mdx_src_x();``), and its
``import { a, b } from './x.js'`` becomes ``const { a, b } = __mdx_x``, read from a module
wrapped before it (``export { a, b } from './x.js'`` likewise, its names also exported).
The wrapping functions' text is the modules' source at run time: worker.js makes the
trainer's Web Worker from it (Function.prototype.toString), so the worker needs no file.
Only those forms of import and export are allowed, so the inliner stays a few regular
expressions (and says so when a module uses another).
"""
import hashlib
import html
import json
import re
from pathlib import Path

PAGE_DIR = Path(__file__).resolve().parent

_IMPORT = re.compile(r"^import \{([^}]*)\}\s*from '\./([\w.]+)';[ \t]*$", re.MULTILINE)
_REEXPORT = re.compile(r"^export \{([^}]*)\}\s*from '\./([\w.]+)';[ \t]*$", re.MULTILINE)
_EXPORT = re.compile(r"^export (?=(?:async\s+)?(?:function\*?|class|const|let)\s+([A-Za-z_$][\w$]*))", re.MULTILINE)


def _strip_comments(src):
    """Drop whole-line // comments, blank lines and indentation (the package's files keep them:
    a page carries about 9 kB less of each). A line inside a template literal (after an odd
    number of backticks: the modules have no backtick in a string, regex or comment) keeps its
    indentation, which is then part of a string."""
    out, ticks = [], 0
    for line in src.splitlines():
        if not line.strip() or line.lstrip().startswith('//'):
            continue
        out.append(line if ticks % 2 else line.lstrip())
        ticks += line.count('`')
    return '\n'.join(out)


def module_code(modules):
    """The ES modules named by `modules` (file names in this folder, each importing only from
    the ones before it) as one script: module x.js becomes the constant __mdx_x, the object
    of its exports."""
    parts, exports = [], {}
    for file in modules:
        src = (PAGE_DIR / file).read_text(encoding='utf-8')

        declared, passed_on = set(), set()

        def imported(m, file=file, passing=False):
            names, source = [n.strip() for n in m.group(1).split(',') if n.strip()], m.group(2)
            if source not in exports or not set(names) <= exports[source]:
                raise RuntimeError(f"{file}: imports {names} from {source!r}, which does not export them")
            if passing:  # export { a } from './x.js': exported, and declared unless imported too
                passed_on.update(names)
                names = [n for n in names if n not in declared]
            declared.update(names)
            return f"const {{ {', '.join(names)} }} = __mdx_{source[:-3]};" if names else ''
        body = _IMPORT.sub(imported, src)
        body = _REEXPORT.sub(lambda m: imported(m, passing=True), body)
        exports[file] = set(_EXPORT.findall(body)) | passed_on
        body = _EXPORT.sub('', body)
        if re.search(r'^\s*(import|export)\b', body, re.MULTILINE) or re.search(r'</script|<!--', body, re.IGNORECASE):
            raise RuntimeError(f"{file}: an import/export form the inliner does not handle, or '</script'")
        name = file[:-3]
        parts.append(f"const __mdx_src_{name} = () => {{\n{_strip_comments(body)}\n"
                     f"return {{ {', '.join(sorted(exports[file]))} }};\n}};\nconst __mdx_{name} = __mdx_src_{name}();")
    return '\n'.join(parts)


def stylesheet(name):
    """The CSS file `name` of this folder, its comments and indentation dropped."""
    css = re.sub(r'/\*.*?\*/', '', (PAGE_DIR / name).read_text(encoding='utf-8'), flags=re.DOTALL)
    return re.sub(r'\s*\n\s*', '\n', css).strip()


def json_for_script(obj):
    """JSON safe inside <script>: no '<', '>' or '&' characters (escaped as \\u003c ...)."""
    text = json.dumps(obj, allow_nan=False, separators=(',', ':'))
    return text.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')


def view_stylesheet(kind, own):
    """view.css (written under .microdnb-explorer, the rules every view shares) scoped to the
    view `kind`'s root, then that view's own CSS file `own`."""
    return stylesheet('view.css').replace('.microdnb-explorer', f'.microdnb-{kind}') + '\n' + stylesheet(own)


def page_output(kind, title, payload, modules, css, fallback):
    """One view as a notebook's text/html output: a root <div class="microdnb-KIND"
    data-microdnb-KIND="ID"> (a group labelled `title`) holding `css` (scoped to that class),
    `payload` as JSON and the static `fallback` HTML, then one inline module script with
    `modules` (module_code), ending in KIND.js's mount("ID"), which finds its root by that
    attribute and replaces the fallback. ID is a hash of the whole, so two outputs of the same
    model and settings share it and each mounts its own root (the first not yet mounted)."""
    data, code = json_for_script(payload), module_code(modules)
    uid = 'x' + hashlib.sha256('\0'.join((data, code, css)).encode()).hexdigest()[:16]
    return (f'<div class="microdnb-{kind}" data-microdnb-{kind}="{uid}" role="group" '
            f'aria-label="{html.escape(title)}"><style>{css}</style>'
            f'<script type="application/json" class="mdx-data">{data}</script>{fallback}</div>\n'
            f'<script type="module">\n{code}\n__mdx_{kind}.mount("{uid}");\n</script>\n')
