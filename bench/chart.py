#!/usr/bin/python3
"""Draws bench/results.png from bench/results.json (written by `rake bench`).

    /usr/bin/python3 bench/chart.py [results.json [results.png]]

Left: for every rate (round trips, deliveries, handshakes per second) that both
implementations have, em-websocket-rs's figure divided by em-websocket's, on a
log scale with em-websocket at 1. Right: server memory per idle connection.
Needs python3-matplotlib (Debian); `rake bench` installs it through bin/deps.
"""

import json
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RS, ORIGINAL = "rs", "original"
RS_COLOUR, ORIGINAL_COLOUR, WORSE_COLOUR = "#2b6cb0", "#a0aec0", "#c05621"


def number(value, unit=""):
    """The figure as results.md prints it."""
    if value >= 1000:
        text = f"{round(value):,}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def rate_rows(table):
    """Rows measured per second (higher is better) with a figure for both."""
    return [
        row
        for row in table
        if row["better"] == "higher"
        and row["unit"] == ""
        and row.get("ratio")
        and row["values"].get(RS)
        and row["values"].get(ORIGINAL)
    ]


def label(row):
    scenario = "\n".join(textwrap.wrap(row["scenario"], 46))
    metric = row["metric"]
    if row.get("baseline_note"):
        metric += f" (em-websocket: {row['baseline_note']})"
    return f"{scenario}\n{metric}"


def draw_rates(ax, rows):
    rows = list(reversed(rows))  # matplotlib draws the first bar at the bottom
    ratios = [row["ratio"] for row in rows]
    y = range(len(rows))
    colours = [RS_COLOUR if r >= 1 else WORSE_COLOUR for r in ratios]
    # Each bar runs from em-websocket's figure (1) to em-websocket-rs's.
    ax.barh(list(y), [r - 1 for r in ratios], left=1, color=colours, height=0.6)
    ax.set_xscale("log")
    low, high = min(0.5, min(ratios) / 2), max(2, max(ratios))
    ax.set_xlim(low, high * 15)
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}x"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1, color="black", linewidth=1.2)
    ax.text(1.05, len(rows) - 0.45, "em-websocket = 1x", fontsize=8, va="bottom")
    for i, row in zip(y, rows):
        rs, orig = row["values"][RS], row["values"][ORIGINAL]
        ax.text(
            max(row["ratio"], 1) * 1.1,
            i,
            f"{row['ratio']:.3g}x   ({number(rs)} vs {number(orig)} per s)",
            va="center",
            fontsize=8.5,
        )
    ax.set_yticks(list(y))
    ax.set_yticklabels([label(row) for row in rows], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.1)
    ax.set_xlabel(
        "em-websocket-rs's rate / em-websocket's (log scale); in brackets: em-websocket-rs vs em-websocket",
        fontsize=9,
    )
    ax.set_title("Throughput, relative to em-websocket: higher is better", fontsize=11, loc="left")
    ax.grid(axis="x", which="major", color="#e2e8f0")
    ax.set_axisbelow(True)


def draw_memory(ax, table, implementations):
    row = next((r for r in table if r["key"] == "rss_kb_per_connection"), None)
    ax.set_title("Memory per idle connection:\nlower is better", fontsize=11, loc="left")
    if row is None:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    bars = [
        (name, row["values"].get(key), colour)
        for key, name, colour in ((RS, "em-websocket-rs", RS_COLOUR), (ORIGINAL, "em-websocket", ORIGINAL_COLOUR))
        if name in implementations
    ]
    bars = [(name, value, colour) for name, value, colour in bars if value is not None]
    y = range(len(bars))
    ax.barh(list(y), [v for _, v, _ in bars], color=[c for _, _, c in bars], height=0.5)
    top = max([v for _, v, _ in bars] or [1])
    for i, (_, value, _) in zip(y, bars):
        ax.text(value + top * 0.03, i, number(value, row["unit"]), va="center", fontsize=9)
    ax.set_yticks(list(y))
    ax.set_yticklabels([name for name, _, _ in bars], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.45)
    scenario = "\n".join(textwrap.wrap(row["scenario"], 28))
    ax.set_xlabel(f"{row['unit']}: server RSS growth\nper connection ({scenario})", fontsize=8.5)
    ax.grid(axis="x", color="#e2e8f0")
    ax.set_axisbelow(True)


def main(argv):
    source = argv[1] if len(argv) > 1 else os.path.join(HERE, "results.json")
    target = argv[2] if len(argv) > 2 else os.path.join(HERE, "results.png")
    with open(source, encoding="utf-8") as f:
        results = json.load(f)
    table, info = results["table"], results["machine"]
    rows = rate_rows(table)
    if not rows:
        print(
            f"chart.py: NOTE: no chart: {source} has no rate measured on both implementations "
            f"({target} is left as it was)"
        )
        return 0

    height = max(4.2, 0.85 * len(rows) + 2.2)
    fig, (rates, memory) = plt.subplots(
        1, 2, figsize=(13, height), gridspec_kw={"width_ratios": [3, 1]}, constrained_layout=True
    )
    draw_rates(rates, rows)
    draw_memory(memory, table, results.get("implementations", []))

    date = info.get("date", "")[:10]
    machine = f"{info.get('nproc')} cores ({info.get('cpu')}), {info.get('kernel')}"
    ruby = " ".join((info.get("ruby") or "").split()[:2])
    title = "em-websocket-rs vs em-websocket (the same Ruby apps, rake bench)"
    if info.get("quick"):
        title += "  |  BENCH_QUICK smoke run: not for comparison"
    fig.suptitle(
        f"{title}\n{date}, {machine}, {ruby}, commit {info.get('commit') or 'unknown'}, "
        f"median of {info.get('rounds')} round(s); details in bench/results.md",
        fontsize=10,
    )
    fig.savefig(target, dpi=110)
    print(f"chart.py: wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
