#!/usr/bin/env python3
"""Adds up the chaos suite's scenarios (chaos_summary.tsv: scenario, faults
injected, requests, hangs; one line per scenario, written by
tests/chaos/chaos_fixture.h) and prints one line:
  chaos summary: N faults injected in S scenarios, R requests, hangs H
Fails on any hang, and on fewer than 1,000 injected faults when the whole
suite ran (at least FULL_SUITE_SCENARIOS scenarios recorded)."""
import sys

FULL_SUITE_SCENARIOS = 40
MIN_FAULTS = 1000

rows = []
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4:
                rows.append((parts[0], int(parts[1]), int(parts[2]), int(parts[3])))
except FileNotFoundError:
    print("chaos summary: no scenario ran")
    sys.exit(0)
faults = sum(r[1] for r in rows)
requests = sum(r[2] for r in rows)
hangs = sum(r[3] for r in rows)
print(f"chaos summary: {faults:,} faults injected in {len(rows)} scenarios, "
      f"{requests:,} requests, hangs {hangs}")
if hangs:
    print("FAIL: requests hung: " + ", ".join(r[0] for r in rows if r[3]))
    sys.exit(1)
if len(rows) >= FULL_SUITE_SCENARIOS and faults < MIN_FAULTS:
    print(f"FAIL: the whole suite injected {faults} faults; it should inject at least {MIN_FAULTS}")
    sys.exit(1)
sys.exit(0)
