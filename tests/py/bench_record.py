"""Writes a benchmark's figures into docs/benchmarks.md (and docs/benchmarks-recorded.md, from
which make bench rebuilds the top of benchmarks.md): one `### title` section per benchmark,
replaced on every run."""
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def record_section(title, body):
    key = title.split(" (")[0]
    for name in ("benchmarks-recorded.md", "benchmarks.md"):
        path = os.path.join(ROOT, "docs", name)
        text = open(path).read() if os.path.exists(path) else ""
        section = f"### {title}\n\n{body.rstrip()}\n\n"
        m = re.search(r"^### " + re.escape(key) + r".*?(?=^### |^`make bench` figures|\Z)",
                      text, re.S | re.M)
        if m:
            text = text[:m.start()] + section + text[m.end():]
        else:
            m = re.search(r"^`make bench` figures", text, re.M)
            at = m.start() if m else len(text)
            text = text[:at].rstrip("\n") + "\n\n" + section + text[at:]
        with open(path, "w") as f:
            f.write(text.rstrip("\n") + "\n")
