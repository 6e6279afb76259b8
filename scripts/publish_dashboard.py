#!/usr/bin/env python
"""Publish the asv dashboard so that it works without the open internet.

Why
    asv's published page (``index.html``) loads jQuery, flot, bootstrap and a few
    small plugins from public CDNs (code.jquery.com, cdnjs, jsDelivr). Where the
    CDNs cannot be reached (machines behind a firewall, many clusters) the page
    stays blank or jumps to asv's "Can not determine continental origin of
    swallow" error page. Package registries are often reachable there, so this
    command fetches the same libraries from the npm registry at publish time and
    points the page at local copies. Nothing third-party is kept in the
    repository: the copies live only in the published folder
    (``asv_benchmarks/.asv/html/vendor/``, git-ignored).

What it does
    1. ``asv machine --yes`` (records this machine if needed), then
       ``asv run --skip-existing [--quick] --bench REGEX HASHFILE:<last N
       first-parent commits of main>``: asv builds each commit in its own
       virtualenv (``asv_benchmarks/.asv/env``) and runs the selected benchmarks
       there, so the graphs show a history, not one point. Results already
       stored for a commit are reused (``--skip-existing``). A benchmark that
       fails on an old commit (an API it uses did not exist yet) only leaves a gap.
    2. ``asv publish`` (writes ``asv_benchmarks/.asv/html``).
    3. Vendoring: every external (``http://``, ``https://``, ``//``) script or
       stylesheet reference in the published HTML, and every quoted CDN URL of a
       ``.js``/``.css`` file in its JavaScript and CSS (asv's own code loading
       something at run time), is mapped to an npm package, version and file:

         https://cdn.jsdelivr.net/npm/PKG@VER/PATH   -> PKG@VER, PATH  (also unpkg.com)
         https://code.jquery.com/jquery-VER[.min].js -> jquery@VER, dist/jquery[.min].js
         https://cdnjs.cloudflare.com/ajax/libs/LIB/VER/PATH
                                                     -> LIB (or its npm name) @VER, PATH

       The package is fetched with ``npm pack PKG@VER`` (npm's own cache makes
       the second publish fast), the file is copied to ``vendor/PKG@VER/PATH``
       with the files its CSS refers to (bootstrap's glyphicon fonts), and the
       reference is rewritten to the local copy. Where npm has the file only
       unminified (flot 0.8.3: cdnjs minifies it itself) the unminified file of
       the same version is used. An ``integrity`` (SRI) attribute is kept when the
       local copy has the CDN's exact bytes, and dropped otherwise (the script
       says which). A reference that cannot be mapped to an npm package, or a
       package version npm does not have, stops the script with an error naming
       the URL, except for the one known case below. Finally the published folder
       is scanned again: any external script or stylesheet left is an error.
       ``vendor/SOURCES.json`` records what came from where.

       Known substitution: cdnjs's ``stupidtable/1.0.1`` (the table sorter of the
       "Benchmark list" tab) was never published to npm; its only npm release is
       ``stupid-table-plugin@1.1.3`` (same author and repository, same
       ``$.fn.stupidtable`` API), which is used instead, with a warning.

How to run it (from the repository root, in the environment where asv and the
project's bench extra are installed: ``pip install -e '.[bench]'``)
    .venv/bin/python scripts/publish_dashboard.py --quick          # 5 commits, quick
    .venv/bin/python scripts/publish_dashboard.py --commits 10     # full measurements
    .venv/bin/python scripts/publish_dashboard.py --bench all      # every benchmark
    .venv/bin/python scripts/publish_dashboard.py --no-run         # publish stored results only
    .venv/bin/python scripts/publish_dashboard.py --vendor-only    # only fix an already published folder
    .venv/bin/python scripts/publish_dashboard.py --quick --serve  # then serve on http://127.0.0.1:8080

    Options: --commits N (default 5), --quick (one sample per benchmark, no
    warm-up), --bench REGEX (repeatable; asv matches it against "name(params)";
    default "^(?!.*'(medium|wide)')": every benchmark except the medium and wide
    problem sizes; "all" for the whole suite), --branch NAME
    (default: the config's first branch), --rerun (measure again even where
    results exist), --no-run, --vendor-only, --serve [--port N],
    --config PATH (default asv_benchmarks/asv.conf.json).

    View the page over HTTP (``--serve``, ``asv preview``, or ``python -m
    http.server -d asv_benchmarks/.asv/html``): browsers do not let a page
    opened as a file:// read the JSON data files.

    BLAS threads: FASTDNN_BENCH_THREADS is set to 1 unless already set (see
    asv_benchmarks/README.md: 2-thread BLAS on a busy 2-core machine is noisy).

How long it takes (measured on a shared 2-core VM, other jobs running)
    --quick, default benchmarks, 5 commits with nothing stored: 12.3 min (asv run
    740 s: about 2.5 min per commit to build and install its wheel and run each
    selected benchmark once; the virtualenv itself is built once, 21 s from pip's cache).
    With 2 of the 5 commits stored: 8 min. With everything stored (--no-run):
    8 s (publish 1 s, npm fetches 6 s, from npm's cache after the first time).
    --bench all adds the medium and wide sizes: expect several minutes more per
    commit in quick mode; full measurements (no --quick) take a few times longer.

    --skip-existing works per benchmark, not per parameter combination: a
    benchmark that already has results for a commit is skipped whole, so after
    widening --bench, use --rerun to fill in the new combinations.
"""
import argparse
import base64
import hashlib
import importlib.util
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "asv_benchmarks" / "asv.conf.json"
DEFAULT_BENCH = ["^(?!.*'(medium|wide)')"]

# cdnjs library names whose npm package has another name.
CDNJS_TO_NPM = {
    "stupidtable": "stupid-table-plugin",
}
# (npm package, version the page asks for) -> (version used, why). Only for
# versions npm has never had; everything else must match exactly.
NPM_SUBSTITUTES = {
    ("stupid-table-plugin", "1.0.1"): (
        "1.1.3",
        "stupidtable 1.0.1 (cdnjs) was never published to npm; stupid-table-plugin "
        "1.1.3 is its only npm release (same repository, same $.fn.stupidtable API)"),
}
# Folders of a package that never hold the file a CDN serves.
_SKIP_DIRS = {"test", "tests", "examples", "example", "docs", "doc", "node_modules", "src",
              "less", "grunt", "spec"}


class PublishError(Exception):
    pass


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------- asv steps

def load_conf(config):
    from asv.util import load_json
    conf = load_json(str(config), api_version=1, js_comments=True)
    base = config.parent
    return dict(html_dir=(base / conf.get("html_dir", "html")).resolve(),
                results_dir=(base / conf.get("results_dir", "results")).resolve(),
                branches=conf.get("branches") or ["main"],
                repo=(base / conf.get("repo", ".")).resolve())


def asv(args, config, check=True):
    cmd = [sys.executable, "-m", "asv", *args, "--config", str(config)]
    log("$ " + " ".join(cmd))
    rc = subprocess.call(cmd)
    if check and rc != 0:
        raise PublishError(f"{' '.join(cmd[2:4])} failed (exit {rc})")
    return rc


def last_commits(repo, branch, n):
    out = subprocess.run(["git", "-C", str(repo), "rev-list", "--first-parent", "-n", str(n),
                          branch], capture_output=True, text=True)
    if out.returncode != 0:
        raise PublishError(f"git rev-list {branch} failed: {out.stderr.strip()}")
    return out.stdout.split()


def run_benchmarks(config, conf, args):
    branch = args.branch or conf["branches"][0]
    commits = last_commits(conf["repo"], branch, args.commits)
    log(f"== benchmarking {len(commits)} commits of {branch}: "
        + " ".join(c[:8] for c in commits))
    asv(["machine", "--yes"], config)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="asv-hashes-",
                                     delete=False) as f:
        f.write("\n".join(commits) + "\n")
        hashfile = f.name
    try:
        cmd = ["run", "--show-stderr", f"HASHFILE:{hashfile}"]
        if args.quick:
            cmd.append("--quick")
        if not args.rerun:
            cmd.append("--skip-existing")
        if args.bench != ["all"]:
            for b in args.bench:
                cmd += ["--bench", b]
        rc = asv(cmd, config, check=False)
    finally:
        os.unlink(hashfile)
    if rc == 2:
        log("publish_dashboard: some benchmarks failed on some commits (asv exit 2); "
            "they show as gaps. Continuing.")
    elif rc != 0:
        raise PublishError(f"asv run failed (exit {rc})")


# ---------------------------------------------------------------- URL -> npm

def npm_target(url):
    """(package, version, path inside the package) for a CDN URL, or None."""
    u = url.split("#")[0].split("?")[0]
    if u.startswith("//"):
        u = "https:" + u
    m = re.match(r"https?://([^/]+)(/.*)$", u)
    if not m:
        return None
    host, path = m.group(1).lower(), m.group(2)
    npm_path = None
    if host == "cdn.jsdelivr.net" and path.startswith("/npm/"):
        npm_path = path[len("/npm/"):]
    elif host in ("unpkg.com", "www.unpkg.com"):
        npm_path = path[1:]
    if npm_path is not None:
        m = re.match(r"((?:@[^/@]+/)?[^/@]+)@([^/]+)/(.+)$", npm_path)
        return (m.group(1), m.group(2), m.group(3)) if m else None
    if host == "code.jquery.com":
        m = re.match(r"/jquery-(\d[\w.\-]*?)((?:\.slim)?(?:\.min)?)\.js$", path)
        if m:
            return "jquery", m.group(1), f"dist/jquery{m.group(2)}.js"
        return None
    if host == "cdnjs.cloudflare.com":
        m = re.match(r"/ajax/libs/([^/]+)/([^/]+)/(.+)$", path)
        if m:
            return CDNJS_TO_NPM.get(m.group(1), m.group(1)), m.group(2), m.group(3)
    return None


def npm_pack(pkg, version, dest, url):
    """Fetch pkg@version with `npm pack` and unpack it; returns (folder, info)."""
    if shutil.which("npm") is None:
        raise PublishError(f"npm is not installed: it is needed to fetch {pkg}@{version} "
                           f"for {url}")
    out = subprocess.run(["npm", "pack", f"{pkg}@{version}", "--json", "--pack-destination",
                          str(dest)], capture_output=True, text=True)
    if out.returncode != 0:
        err = [ln for ln in out.stderr.splitlines() if "npm error" in ln][:3]
        raise LookupError("; ".join(err) or out.stderr.strip()[:300])
    info = json.loads(out.stdout)[0]
    folder = Path(dest) / f"{pkg.replace('/', '__')}@{version}"
    with tarfile.open(Path(dest) / info["filename"]) as tar:
        tar.extractall(folder, filter="data")
    return folder / "package", info


def find_file(pkg_dir, path):
    """The file of the package a CDN serves as `path`; None if not found."""
    path = path.lstrip("/")
    candidates = [path, "dist/" + path]
    unmin = re.sub(r"\.min\.(js|css)$", r".\1", path)
    if unmin != path:
        candidates += [unmin, "dist/" + unmin]
    for c in candidates:
        if (pkg_dir / c).is_file():
            return c
    names = [posixpath.basename(path)] + ([posixpath.basename(unmin)] if unmin != path else [])
    for name in names:
        hits = sorted((p.relative_to(pkg_dir).as_posix() for p in pkg_dir.rglob(name)
                       if p.is_file() and not _SKIP_DIRS & set(p.relative_to(pkg_dir).parts[:-1])),
                      key=lambda s: (s.count("/"), s))
        if hits:
            return hits[0]
    return None


class Vendor:
    """Fetches packages once each and copies files into html_dir/vendor."""

    def __init__(self, html_dir, tmp):
        self.html_dir = html_dir
        self.vendor = html_dir / "vendor"
        self.tmp = Path(tmp)
        self.packages = {}   # (pkg, asked version) -> (dir, version used, info, note)
        self.sources = []    # one record per URL

    def package(self, pkg, version, url):
        key = (pkg, version)
        if key not in self.packages:
            note = None
            try:
                pkg_dir, info = npm_pack(pkg, version, self.tmp, url)
                used = version
            except LookupError as exc:
                if key not in NPM_SUBSTITUTES:
                    raise PublishError(f"cannot fetch {pkg}@{version} from npm for {url}: {exc}")
                used, why = NPM_SUBSTITUTES[key]
                note = f"{pkg}@{version} is not on npm, using {pkg}@{used}: {why}"
                log(f"   WARNING: {note}")
                try:
                    pkg_dir, info = npm_pack(pkg, used, self.tmp, url)
                except LookupError as exc2:
                    raise PublishError(f"cannot fetch {pkg}@{used} from npm for {url}: {exc2}")
            self.packages[key] = (pkg_dir, used, info, note)
        return self.packages[key]

    def fetch(self, url):
        """Local path (relative to html_dir) of the file `url` serves, fetched from npm."""
        target = npm_target(url)
        if target is None:
            raise PublishError(f"no npm package known for {url} (add a rule to npm_target "
                               f"in scripts/publish_dashboard.py)")
        pkg, version, path = target
        pkg_dir, used, info, note = self.package(pkg, version, url)
        rel = find_file(pkg_dir, path)
        if rel is None:
            raise PublishError(f"{pkg}@{used} from npm has no file for {url} (looked for {path})")
        local = f"vendor/{pkg}@{used}/{rel}"
        self._copy(pkg_dir, rel, local)
        if rel.endswith(".css"):
            self._copy_css_assets(pkg_dir, rel, local)
        if rel != path:
            note = (note + "; " if note else "") + f"npm has {rel} for {path}"
        self.sources.append(dict(url=url, npm=f"{pkg}@{used}", file=rel, local=local,
                                 tarball=info.get("filename"), integrity=info.get("integrity"),
                                 note=note))
        return local

    def _copy(self, pkg_dir, rel, local):
        dst = self.html_dir / local
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pkg_dir / rel, dst)

    def _copy_css_assets(self, pkg_dir, rel, local):
        css = (pkg_dir / rel).read_text(encoding="utf-8", errors="replace")
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css):
            ref = ref.strip()
            if ref.startswith(("data:", "http:", "https:", "//", "#")):
                continue   # data URIs; external ones are caught by the final scan
            ref = ref.split("?")[0].split("#")[0]
            src = posixpath.normpath(posixpath.join(posixpath.dirname(rel), ref))
            if (pkg_dir / src).is_file():
                self._copy(pkg_dir, src, posixpath.normpath(
                    posixpath.join(posixpath.dirname(local), ref)))
            else:
                log(f"   note: {rel} refers to {ref}, not in the package (left out)")


# ---------------------------------------------------------------- rewriting

EXTERNAL = r"(?:https?:)?//"
TAG_RE = re.compile(r"<(script|link)\b[^>]*>", re.I | re.S)
ATTR_RE = r"""\b{name}\s*=\s*(["'])(.*?)\1"""
# a quoted external URL of a script or stylesheet inside JavaScript or CSS
JS_URL_RE = re.compile(r"""(["'`])(""" + EXTERNAL + r"""[^"'`\s]+?\.(?:m?js|css)(?:\?[^"'`\s]*)?)\1""")
INLINE_SCRIPT_RE = re.compile(r"(<script\b[^>]*>)(.*?)(</script\s*>)", re.I | re.S)
CSS_URL_RE = re.compile(r"""(?:url\(\s*|@import\s+)(["']?)(""" + EXTERNAL + r"""[^"')\s;]+)\1""")


def attr(tag, name):
    m = re.search(ATTR_RE.format(name=name), tag, re.I | re.S)
    return m.group(2) if m else None


def drop_attr(tag, name):
    return re.sub(r"\s+" + ATTR_RE.format(name=name), "", tag, flags=re.I | re.S)


def sri_matches(integrity, data):
    for token in (integrity or "").split():
        alg, _, want = token.partition("-")
        if alg in ("sha256", "sha384", "sha512"):
            got = base64.b64encode(hashlib.new(alg, data).digest()).decode()
            if got == want:
                return True
    return False


def external_refs_in_tag(tag):
    """The external URL a <script>/<link> tag makes the browser load, or None."""
    kind = tag[1:].split(None, 1)[0].lower().rstrip(">")
    url = attr(tag, "src") if kind == "script" else attr(tag, "href")
    if not url or not re.match(EXTERNAL, url, re.I):
        return None
    if kind == "link":
        rel = (attr(tag, "rel") or "").lower().split()
        if not set(rel) & {"stylesheet", "preload", "modulepreload", "icon", "prefetch"}:
            return None   # e.g. rel="alternate": a link, not a resource
    return url


def rewrite_html(path, vendor):
    text = path.read_text(encoding="utf-8")
    prefix = posixpath.relpath(".", path.parent.relative_to(vendor.html_dir).as_posix())
    prefix = "" if prefix == "." else prefix + "/"

    def fix(m):
        tag = m.group(0)
        url = external_refs_in_tag(tag)
        if url is None:
            return tag
        local = vendor.fetch(url)
        kind = "src" if m.group(1).lower() == "script" else "href"
        tag = re.sub(ATTR_RE.format(name=kind), lambda a: f'{kind}="{prefix}{local}"', tag,
                     count=1, flags=re.I | re.S)
        integrity = attr(tag, "integrity")
        same = sri_matches(integrity, (vendor.html_dir / local).read_bytes())
        vendor.sources[-1]["same_bytes_as_cdn"] = same if integrity else None
        if integrity and not same:
            tag = drop_attr(tag, "integrity")
        for name in ("crossorigin", "referrerpolicy"):
            tag = drop_attr(tag, name)
        log(f"   {url}\n     -> {prefix}{local}"
            + ("   (same bytes as the CDN's: SRI kept)" if same else
               "   (not the CDN's bytes: SRI dropped)" if integrity else ""))
        return tag

    new = TAG_RE.sub(fix, text)
    # inline <script> blocks: URLs they load at run time, relative to this page
    def fix_inline(u):
        local = prefix + vendor.fetch(u.group(2))
        log(f"   {u.group(2)} (inline script of {path.name})\n     -> {local}")
        return u.group(0).replace(u.group(2), local)

    new = INLINE_SCRIPT_RE.sub(
        lambda m: m.group(1) + JS_URL_RE.sub(fix_inline, m.group(2)) + m.group(3), new)
    if new != text:
        path.write_text(new, encoding="utf-8")


def rewrite_code(path, vendor):
    """Quoted CDN URLs in JavaScript/CSS (code that loads libraries at run time)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    regex = JS_URL_RE if path.suffix == ".js" else CSS_URL_RE

    def fix(m):
        local = vendor.fetch(m.group(2))
        log(f"   {m.group(2)} (in {path.name})\n     -> {local}")
        # JavaScript runs in the page: paths are relative to the page (html_dir);
        # CSS paths are relative to the stylesheet.
        if path.suffix == ".css":
            local = posixpath.relpath(local, path.parent.relative_to(vendor.html_dir).as_posix())
        return m.group(0).replace(m.group(2), local)

    new = regex.sub(fix, text)
    if new != text:
        path.write_text(new, encoding="utf-8")


def published_files(html_dir, suffixes, include_vendor=False):
    for p in sorted(html_dir.rglob("*")):
        if p.suffix in suffixes and p.is_file():
            rel = p.relative_to(html_dir).parts
            if rel[0] in ("graphs",):
                continue
            if rel[0] == "vendor" and not include_vendor:
                continue
            yield p


def leftover_external(html_dir):
    bad = []
    for p in published_files(html_dir, {".html", ".htm"}):
        text = p.read_text(encoding="utf-8", errors="replace")
        for m in TAG_RE.finditer(text):
            url = external_refs_in_tag(m.group(0))
            if url:
                bad.append((p, url))
        for m in INLINE_SCRIPT_RE.finditer(text):
            bad += [(p, u.group(2)) for u in JS_URL_RE.finditer(m.group(2))]
    for p in published_files(html_dir, {".js", ".css"}, include_vendor=True):
        regex = JS_URL_RE if p.suffix == ".js" else CSS_URL_RE
        for m in regex.finditer(p.read_text(encoding="utf-8", errors="replace")):
            bad.append((p, m.group(2)))
    return bad


def vendor_dashboard(html_dir):
    if not (html_dir / "index.html").is_file():
        raise PublishError(f"{html_dir}/index.html not found: run asv publish first")
    vendor_dir = html_dir / "vendor"
    if vendor_dir.exists():
        shutil.rmtree(vendor_dir)
    log(f"== vendoring external scripts and stylesheets of {html_dir}")
    with tempfile.TemporaryDirectory(prefix="asv-vendor-") as tmp:
        vendor = Vendor(html_dir, tmp)
        for p in published_files(html_dir, {".html", ".htm"}):
            rewrite_html(p, vendor)
        for p in published_files(html_dir, {".js", ".css"}):
            rewrite_code(p, vendor)
        bad = leftover_external(html_dir)
        if bad:
            raise PublishError("external references left after vendoring:\n" + "\n".join(
                f"  {p.relative_to(html_dir)}: {u}" for p, u in bad))
        if vendor.sources:
            (vendor_dir / "SOURCES.json").write_text(json.dumps(vendor.sources, indent=2) + "\n")
        used = sorted({s["npm"] for s in vendor.sources})
        log(f"   fetched from npm: {', '.join(used) or 'nothing (no external references)'}")
        for s in vendor.sources:
            if s.get("note"):
                log(f"   note: {s['url']}: {s['note']}")
    return vendor.sources


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commits", type=int, default=5,
                    help="benchmark the last N first-parent commits of the branch (default 5)")
    ap.add_argument("--quick", action="store_true",
                    help="asv --quick: one sample per benchmark, no warm-up")
    ap.add_argument("--bench", action="append", default=None,
                    help="asv --bench regex (repeatable); default: all but the medium and wide "
                         "sizes; 'all' for every benchmark")
    ap.add_argument("--branch", help="branch to take commits from (default: the config's)")
    ap.add_argument("--rerun", action="store_true",
                    help="measure again even where results are stored (no --skip-existing)")
    ap.add_argument("--no-run", action="store_true", help="only publish stored results")
    ap.add_argument("--vendor-only", action="store_true",
                    help="only vendor the already published folder (no asv run/publish)")
    ap.add_argument("--serve", action="store_true",
                    help="serve the published folder afterwards (Ctrl-C to stop)")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = ap.parse_args(argv)
    args.bench = args.bench or DEFAULT_BENCH
    config = args.config.resolve()
    os.environ.setdefault("FASTDNN_BENCH_THREADS", "1")

    t0 = time.monotonic()
    if importlib.util.find_spec("asv") is None:
        sys.exit("publish_dashboard: asv is not installed for this interpreter "
                 "(pip install -e '.[bench]')")
    try:
        conf = load_conf(config)
        if not args.vendor_only:
            if not args.no_run:
                run_benchmarks(config, conf, args)
                log(f"== asv run done in {time.monotonic() - t0:.0f} s")
            t1 = time.monotonic()
            asv(["publish"], config)
            log(f"== asv publish done in {time.monotonic() - t1:.0f} s")
        t2 = time.monotonic()
        vendor_dashboard(conf["html_dir"])
        log(f"== vendoring done in {time.monotonic() - t2:.0f} s")
    except PublishError as exc:
        sys.exit(f"publish_dashboard: error: {exc}")
    log(f"== dashboard in {conf['html_dir']} ({time.monotonic() - t0:.0f} s in all); "
        f"view it over HTTP, e.g.\n   {sys.executable} -m http.server -d {conf['html_dir']} "
        f"{args.port}   # then http://127.0.0.1:{args.port}/")
    if args.serve:
        subprocess.call([sys.executable, "-m", "http.server", "-b", "127.0.0.1", "-d",
                         str(conf["html_dir"]), str(args.port)])


if __name__ == "__main__":
    main()
