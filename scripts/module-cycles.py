#!/usr/bin/env python3
"""Fails when a module of a workspace crate imports a module that imports it back, or one of
its own ancestors (a child reaching into its parent's items): data flows one way inside a
crate. Reads `use crate::...` and `use super::...` paths (test modules left out) and resolves
each to the innermost module file that exists. Usage: scripts/module-cycles.py [crate ...]"""
import os
import re
import sys

CRATES = ["api", "service-core", "catalog", "raft-node", "gateway", "jepsen-like", "testkit"]


def module_of(crate, path):
    parts = os.path.relpath(path, f"{crate}/src")[:-3].split("/")
    return tuple(parts[:-1] if parts[-1] in ("mod", "lib", "main") else parts)


def imports(module, source):
    source = source.split("#[cfg(test)]\nmod tests")[0]
    found = {tuple(p.split("::")) for p in re.findall(r"\bcrate::(\w+(?:::\w+)*)", source)}
    found |= {module[:-1] + tuple(p.split("::"))
              for p in re.findall(r"\buse super::(\w+(?:::\w+)*)", source)}
    if re.search(r"\buse super::\{", source):
        found.add(module[:-1])
    return found


def problems(crate):
    files = [os.path.join(d, f) for d, _, fs in os.walk(f"{crate}/src") for f in fs if f.endswith(".rs")]
    raw = {module_of(crate, f): imports(module_of(crate, f), open(f).read()) for f in files}

    def resolve(path):
        while path and path not in raw:
            path = path[:-1]
        return path

    edges = {m: {resolve(d) for d in deps} - {m} for m, deps in raw.items()}
    for a, deps in sorted(edges.items()):
        for b in sorted(deps):
            name_a, name_b = "::".join(a) or "crate", "::".join(b) or "crate"
            if a[: len(b)] == b:
                yield f"{crate}: {name_a} imports its ancestor {name_b}"
            elif a in edges.get(b, ()) and a < b:
                yield f"{crate}: {name_a} and {name_b} import each other"


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    found = [p for crate in (sys.argv[1:] or CRATES) for p in problems(crate)]
    for problem in found:
        print(problem)
    print(f"module-cycles: {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
