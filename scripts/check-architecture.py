#!/usr/bin/env python3
"""Checks the shape docs/architecture.md describes.

1. Top-level modules depend on each other one way only: reads every
   `crate::<module>` reference under src/ (comments included, so a stale
   mention counts too), prints the graph, and fails if a module uses one it
   may not (the table below) or if there is any cycle.
2. No source file under src/ or client/src/ is longer than 400 lines (a file
   holds one idea); client/src/ never names the server crate.

Usage: python3 scripts/check-architecture.py  (from anywhere in the repository)
"""
import os
import re
import sys

# Each module and the modules it may use. Lower layers never name higher ones.
MAX_LINES = 400

ALLOWED = {
    "domain": set(),
    "config": {"domain"},
    "ops": {"config", "domain"},
    "token": {"config", "domain"},
    "store": {"config", "domain", "ops"},
    "service": {"config", "domain", "ops", "store", "token"},
    "http": {"config", "domain", "ops", "service"},
    "app": {"config", "domain", "http", "ops", "service", "store", "token"},
    "cli": {"app", "config", "domain", "ops", "token"},
}

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
uses = {}
long_files = []
for folder, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.join(folder, name)
        rel = os.path.relpath(path, root).split(os.sep)
        module = rel[0][:-3] if len(rel) == 1 else rel[0]
        if module in ("lib", "main"):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.count("\n")
        if lines > MAX_LINES:
            long_files.append(f"src/{'/'.join(rel)} has {lines} lines (at most {MAX_LINES})")
        named = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text))
        uses.setdefault(module, set()).update(named - {module})

# The client package (client/, tessera-client) is a separate crate that
# talks to Tessera over HTTP only: same size rule, and it must not depend on
# the server's code.
client_root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client")
for folder, _, files in os.walk(os.path.join(client_root, "src")):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.join(folder, name)
        rel = os.path.relpath(path, client_root)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.count("\n")
        if lines > MAX_LINES:
            long_files.append(f"client/{rel} has {lines} lines (at most {MAX_LINES})")
        if re.search(r"\btessera::", text):
            long_files.append(f"client/{rel} uses the server crate (`tessera::`); the client speaks HTTP only")

problems = []
for module in sorted(uses):
    print(f"{module:8} -> {', '.join(sorted(uses[module])) or '(nothing)'}")
    if module not in ALLOWED:
        problems.append(f"`{module}` is not in the layer table of scripts/check-layers.py")
        continue
    for bad in sorted(uses[module] - ALLOWED[module]):
        problems.append(f"`{module}` uses `{bad}`, which is not below it")


def cycle_from(start, node, seen):
    for nxt in sorted(uses.get(node, ())):
        if nxt == start:
            return [node, nxt]
        if nxt not in seen:
            seen.add(nxt)
            path = cycle_from(start, nxt, seen)
            if path:
                return [node] + path
    return None


for module in sorted(uses):
    path = cycle_from(module, module, {module})
    if path:
        problems.append("cycle: " + " -> ".join(path))
        break

problems += long_files

if problems:
    print("\n".join(["", "architecture check failed:"] + problems), file=sys.stderr)
    sys.exit(1)
print(f"architecture: no cycle, every dependency points down, no src or client/src file over {MAX_LINES} lines")
