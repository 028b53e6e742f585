#!/usr/bin/env python3
"""
tests/e2e/browser.py: load a `study report` page in a real, headless Chromium
with no network, drive it through the DevTools protocol, and check it.

  browser.py CHROMIUM PAGE.html EXPECT.json SHOT.png LABEL

EXPECT.json: {"stages": {"<stage id>": "<status>", ...}, "metrics": N}
(written by the test from `study show RUN --json` and `study results`).

Prints one TAP line per check ("ok - LABEL: ..." / "not ok - LABEL: ...")
and exits 1 when one failed. The checks:
  - the page loads; no console message of level error or warning, no
    uncaught exception, no network request other than the file itself
    (every request is watched through Network.requestWillBeSent; the browser
    also runs with a proxy and host resolver that lead nowhere);
  - every expected stage has one node in the DAG and one row in the stage
    table, with its status' class, and nothing else is there; every node
    links to its row;
  - each status is drawn in the colour its legend swatch shows, and two
    statuses never share a colour;
  - every metric value links to the row of the stage that recorded it, and
    following a link targets that row and opens its details;
  - clicking a column title sorts the stage table (both ways);
  - the DAG and the timeline fit their boxes (nothing clipped);
  - a screenshot of the page from its top to the end of the timeline is
    written to SHOT.png, decoded here (zlib, no imaging library) and found
    neither blank nor cut at any edge.

Chromium runs with the flags a closed network needs (--headless --no-sandbox
--disable-gpu --no-first-run --disable-background-networking
--disable-component-update --disable-sync, a fresh --user-data-dir) and
talks over --remote-debugging-pipe (descriptors 3 and 4), so no port is open.
"""
import base64
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

WIDTH = 1400
HEIGHT = 1000
TIMEOUT = 60


class Browser:
    def __init__(self, chromium, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            # via free descriptors, in case a pipe end already is 3 or 4
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--disable-extensions",
                "--user-data-dir=" + profile, "--remote-debugging-pipe",
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                "--window-size=%d,%d" % (WIDTH, HEIGHT), "about:blank"]
        # the pipe ends are made descriptors 3 and 4 after the fork; close_fds
        # would close them again, and every other descriptor of ours is
        # close-on-exec (PEP 446)
        self.proc = subprocess.Popen(args, preexec_fn=fds, close_fds=False,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=None if os.environ.get("BROWSER_DEBUG") else subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.send("Browser.close", session=False, wait=False)
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            r, _, _ = select.select([self.from_chrome], [], [], left)
            if r:
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=True, wait=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        if not wait:
            return None
        deadline = time.time() + TIMEOUT
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method):
        deadline = time.time() + TIMEOUT
        for i, m in enumerate(self.events):
            if m.get("method") == method:
                del self.events[i]
                return m
        while True:
            m = self._read_message(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)

    def drain(self, seconds):
        end = time.time() + seconds
        try:
            while True:
                self.events.append(self._read_message(end))
        except TimeoutError:
            pass

    def js(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("page script failed: %s" % r["exceptionDetails"])
        return r["result"].get("value")


def decode_png(data):
    """(width, height, bytes per pixel, pixels) of an 8-bit RGB or RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unexpected PNG format %r" % (ihdr,))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    out = bytearray(h * stride)
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return w, h, bpp, out


def picture_facts(png):
    """Distinct colours (sampled), share of non-background bytes, content
    bounding box; the background is the top-left pixel's colour, which must
    be a grey (the page's is white)."""
    w, h, bpp, px = decode_png(png)
    bg = px[0]
    if px[1] != bg or px[2] != bg:
        return {"width": w, "height": h, "colours": 0, "ink": 0, "bbox": [0, 0, w, h],
                "error": "the top-left pixel is not grey"}
    bgb = bytes([bg])
    stride = w * bpp
    colours, ink = set(), 0
    x0, y0, x1, y1 = w, h, -1, -1
    for y in range(h):
        row = bytes(px[y * stride:(y + 1) * stride])
        if bpp == 4:  # the alpha channel is opaque everywhere: drop it
            row = b"".join(row[i:i + 3] for i in range(0, len(row), 4)) if row.strip(bgb) else row
        rest = row.lstrip(bgb)
        if not rest:
            continue
        n = len(row) // 3 * 3 if bpp == 4 else len(row)
        first = (len(row) - len(rest)) // 3
        last = (len(row.rstrip(bgb)) - 1) // 3
        ink += n - row.count(bgb)
        x0, x1 = min(x0, first), max(x1, last)
        y0, y1 = min(y0, y), max(y1, y)
        for x in range(first, last + 1, 5):
            if len(colours) < 4096:
                colours.add(row[x * 3:x * 3 + 3])
    return {"width": w, "height": h, "colours": len(colours), "ink": ink / float(w * h * 3),
            "bbox": [x0, y0, x1, y1]}


# The DOM facts, gathered in the page.
FACTS = r"""
(function() {
  function status(el) {
    var c = [].slice.call(el.classList).filter(function(k) { return k.indexOf('st-') === 0; });
    return c.length ? c[0].slice(3) : null;
  }
  var nodes = {}, rows = {}, dup = [], bad_nodes = [];
  document.querySelectorAll('#dag-svg g.node[data-stage]').forEach(function(g) {
    var id = g.getAttribute('data-stage');
    if (id in nodes) dup.push('dag:' + id);
    nodes[id] = {status: status(g), fill: getComputedStyle(g.querySelector('rect')).fill};
    var a = g.closest('a'), href = a && a.getAttribute('href');
    var row = href && document.getElementById(decodeURIComponent(href.slice(1)));
    if (!row || row.getAttribute('data-stage') !== id) bad_nodes.push(id);
  });
  document.querySelectorAll('#stage-table tbody tr[data-stage]').forEach(function(tr) {
    var id = tr.getAttribute('data-stage');
    if (id in rows) dup.push('table:' + id);
    rows[id] = {status: status(tr.cells[2]), id: tr.id};
  });
  var swatch = {};
  document.querySelectorAll('.legend span.sw').forEach(function(s) {
    var st = status(s);
    if (st) swatch[st] = getComputedStyle(s).backgroundColor;
  });
  var links = document.querySelectorAll('#metrics a.m'), bad = [];
  links.forEach(function(a) {
    var id = decodeURIComponent(a.getAttribute('href').slice(1));
    var row = document.getElementById(id);
    if (!row || row.getAttribute('data-stage') !== a.getAttribute('data-stage') ||
        row.closest('#stage-table') === null)
      bad.push(a.getAttribute('href'));
  });
  function fits(sel) {
    var svg = document.querySelector(sel);
    if (!svg) return null;
    var box = svg.parentElement;
    return {svg: svg.getBoundingClientRect().width, box: box.clientWidth,
            scroll: box.scrollWidth, fits: box.scrollWidth <= box.clientWidth};
  }
  return {nodes: nodes, rows: rows, dup: dup, bad_nodes: bad_nodes, swatch: swatch,
          links: links.length,
          bad_links: bad, dag: fits('#dag-svg'), timeline: fits('#timeline-svg'),
          title: document.title};
})()
"""

FOLLOW = r"""
(function() {
  var a = document.querySelector('#metrics a.m');
  if (!a) return null;
  a.click();
  return new Promise(function(done) { setTimeout(function() {
    var t = document.querySelector(':target');
    var d = t && t.querySelector('details');
    done({hash: location.hash, href: a.getAttribute('href'),
          target: t ? t.getAttribute('data-stage') : null, stage: a.getAttribute('data-stage'),
          open: !!(d && d.open), visible: t ? t.getBoundingClientRect().top : null});
  }, 200); });
})()
"""

SORT = r"""
(function() {
  var t = document.getElementById('stage-table');
  var th = [].slice.call(t.tHead.rows[0].cells).filter(function(c) {
    return c.textContent === 'wall'; })[0];
  var col = th.cellIndex;
  function values() { return [].slice.call(t.tBodies[0].rows).map(function(r) {
    return parseFloat(r.cells[col].getAttribute('data-v')); }); }
  th.click(); var up = values();
  th.click(); var down = values();
  function sorted(v, dir) { for (var i = 1; i < v.length; i++)
    if ((v[i] - v[i - 1]) * dir < 0) return false; return true; }
  return {n: up.length, up: sorted(up, 1), down: sorted(down, -1),
          differs: up.length < 2 || up[0] !== up[up.length - 1]};
})()
"""


def main():
    chromium, page, expect_path, shot, label = sys.argv[1:6]
    expect = json.load(open(expect_path))
    results = []

    def check(what, cond, info=None):
        results.append(bool(cond))
        print("%s - %s: %s" % ("ok" if cond else "not ok", label, what))
        if not cond and info is not None:
            for line in json.dumps(info, indent=1, sort_keys=True)[:3000].splitlines():
                print("#   " + line)
        sys.stdout.flush()

    profile = tempfile.mkdtemp(prefix="study-chromium-")
    b = Browser(chromium, profile)
    try:
        targets = b.send("Target.getTargets")["targetInfos"]
        page_target = [t for t in targets if t["type"] == "page"][0]["targetId"]
        b.session = b.send("Target.attachToTarget", {"targetId": page_target,
                                                     "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            b.send(domain + ".enable")
        b.send("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": HEIGHT,
                                                      "deviceScaleFactor": 1, "mobile": False})
        url = "file://" + os.path.abspath(page)
        t0 = time.time()
        nav = b.send("Page.navigate", {"url": url})
        b.wait_event("Page.loadEventFired")
        load_s = time.time() - t0
        check("the page loads (%.2f s)" % load_s, "errorText" not in nav, nav)

        facts = b.js(FACTS)
        follow = b.js(FOLLOW)
        sort = b.js(SORT)
        # scroll back, let late messages arrive, then take the picture
        b.js("history.replaceState(null, '', location.pathname); window.scrollTo(0, 0)")
        b.drain(0.3)
        end = b.js("Math.ceil(document.getElementById('timeline').getBoundingClientRect()"
                   ".bottom + window.scrollY) + 12")
        shot_data = b.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": WIDTH, "height": end, "scale": 1}})["data"]
        png = base64.b64decode(shot_data)
        with open(shot, "wb") as f:
            f.write(png)
        b.drain(0.2)
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)

    # console and network
    console, requests = [], []
    for m in b.events:
        meth, p = m.get("method"), m.get("params", {})
        if meth == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            console.append([a.get("value", a.get("description")) for a in p.get("args", [])])
        elif meth == "Runtime.exceptionThrown":
            console.append(p.get("exceptionDetails", {}).get("text"))
        elif meth == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            console.append(p["entry"].get("text"))
        elif meth == "Network.requestWillBeSent":
            u = p["request"]["url"]
            if not (u.startswith("file:") or u.startswith("data:") or u.startswith("about:")):
                requests.append(u)
    check("no console error, warning or uncaught exception", not console, console)
    check("no network request", not requests, requests)

    # every stage, with its status, in the DAG and the table
    want = expect["stages"]
    nodes, rows = facts["nodes"], facts["rows"]
    check("the DAG has exactly the run's %d stages" % len(want),
          sorted(nodes) == sorted(want) and not facts["dup"],
          {"missing": sorted(set(want) - set(nodes)), "extra": sorted(set(nodes) - set(want)),
           "dup": facts["dup"]})
    check("every stage in the DAG links to its row in the stage table", not facts["bad_nodes"],
          facts["bad_nodes"][:20])
    check("the stage table has exactly the run's %d stages" % len(want),
          sorted(rows) == sorted(want),
          {"missing": sorted(set(want) - set(rows)), "extra": sorted(set(rows) - set(want))})
    wrong = {k: [v, nodes.get(k, {}).get("status"), rows.get(k, {}).get("status")]
             for k, v in want.items()
             if nodes.get(k, {}).get("status") != v or rows.get(k, {}).get("status") != v}
    check("each stage shows its recorded status (DAG and table)", not wrong, wrong)
    seen = {}
    for k, n in nodes.items():
        seen.setdefault(n["status"], set()).add(n["fill"])
    colour_ok = all(len(f) == 1 and list(f)[0] == facts["swatch"].get(s) for s, f in seen.items())
    fills = [list(f)[0] for f in seen.values() if len(f) == 1]
    check("each status is drawn in its legend colour (%s)" % ", ".join(sorted(seen)),
          colour_ok and len(set(fills)) == len(fills) and seen,
          {"fills": {s: sorted(f) for s, f in seen.items()}, "legend": facts["swatch"]})
    legend = facts["swatch"]
    check("the legend's six statuses have six colours",
          len(legend) == 6 and len(set(legend.values())) == 6, legend)

    # metrics link to their stages
    check("every metric value (%d) is a link" % expect["metrics"],
          facts["links"] == expect["metrics"], {"links": facts["links"]})
    check("every metric link resolves to its stage's row", not facts["bad_links"],
          facts["bad_links"][:20])
    if expect["metrics"]:
        check("following a metric link targets its stage's row and opens its details",
              follow and follow["target"] == follow["stage"] and follow["open"] and
              follow["hash"] == follow["href"] and follow["visible"] is not None and
              -2 <= follow["visible"] < HEIGHT, follow)
    check("clicking 'wall' sorts the stage table up, then down",
          sort["n"] == len(want) and sort["up"] and sort["down"], sort)

    # nothing clipped, nothing blank
    for name in ("dag", "timeline"):
        f = facts[name]
        check("the %s fits its box at %d px (nothing clipped)" % (name, WIDTH),
              f is not None and f["fits"], f)
    pic = picture_facts(png)
    x0, y0, x1, y1 = pic["bbox"]
    check("the screenshot (%dx%d) is not blank (%d colours, %.1f%% ink)" %
          (pic["width"], pic["height"], pic["colours"], 100 * pic["ink"]),
          pic["colours"] >= 8 and pic["ink"] > 0.02, pic)
    check("the screenshot's content is not cut at an edge",
          x1 >= 0 and x0 >= 4 and y0 >= 4 and x1 <= pic["width"] - 5 and
          y1 <= pic["height"] - 5, pic)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
