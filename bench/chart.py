#!/usr/bin/python3
"""Draws bench/results.png from bench/results.json (written by `rake bench`).

    /usr/bin/python3 bench/chart.py [results.json [results.png]]

Left: for every server CPU cost per message (round trip, delivery,
connection) measured on em-websocket-rs and on the reference (em-websocket, or
python websockets for the permessage-deflate row), how many times less CPU
em-websocket-rs spends (the reference's figure divided by em-websocket-rs's),
one bar per em-websocket-rs column (framing on the reactor thread, on the
tokio pool), on a log scale with the reference at 1. Right: server memory per
idle connection. Needs python3-matplotlib (Debian); `rake bench` installs it
through bin/deps. Reads results.json files from before the pool column too.
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
RS, RS_POOL, ORIGINAL = "rs", "rs_pool", "original"
RS_COLOUR, POOL_COLOUR, ORIGINAL_COLOUR, WORSE_COLOUR = "#2b6cb0", "#38a169", "#a0aec0", "#c05621"
LABELS = {
    RS: "em-websocket-rs (reactor)",
    RS_POOL: "em-websocket-rs (pool)",
    ORIGINAL: "em-websocket",
    "python": "python websockets",
}


def number(value, unit=""):
    """The figure as results.md prints it."""
    if value >= 1000:
        text = f"{round(value):,}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def ratios(row):
    """{rs column: its ratio over the reference}; older files have one `ratio`."""
    found = row.get("ratios")
    if found is None:
        found = {RS: row["ratio"]} if row.get("ratio") else {}
    return {key: value for key, value in found.items() if value}


def cost_rows(table):
    """Server CPU per message (lower is better) with a reference figure."""
    return [
        row
        for row in table
        if row["key"].startswith("server_cpu_us_per_") and row["better"] == "lower" and ratios(row)
    ]


def label(row):
    scenario = "\n".join(textwrap.wrap(row["scenario"], 50))
    metric = row["metric"]
    reference = LABELS.get(row.get("reference", ORIGINAL), row.get("reference"))
    note = f"vs {reference}"
    if row.get("baseline_note"):
        note += f": {row['baseline_note']}"
    return f"{scenario}\n{metric} ({textwrap.shorten(note, 60)})"


def draw_costs(ax, rows):
    rows = list(reversed(rows))  # matplotlib draws the first bar at the bottom
    columns = [key for key in (RS, RS_POOL) if any(key in ratios(row) for row in rows)]
    height = 0.8 / max(len(columns), 1)
    gains = [1 / r for row in rows for r in ratios(row).values()]
    for c, key in enumerate(columns):
        colour = RS_COLOUR if key == RS else POOL_COLOUR
        for i, row in enumerate(rows):
            ratio = ratios(row).get(key)
            if not ratio:
                continue
            gain = 1 / ratio  # times less CPU than the reference
            y = i + ((len(columns) - 1) / 2 - c) * height  # reactor above pool
            ax.barh(y, gain - 1, left=1, color=colour if gain >= 1 else WORSE_COLOUR, height=height * 0.9,
                    label=LABELS[key] if i == 0 else None)
            rs = row["values"][key]
            ref = row["values"].get(row.get("reference", ORIGINAL))
            text = f"{gain:.3g}x  ({number(rs, row['unit'])} vs {number(ref, row['unit'])})" if ref else f"{gain:.3g}x"
            ax.text(max(gain, 1) * 1.08, y, text, va="center", fontsize=7.5)
    ax.set_xscale("log")
    low, high = min(0.5, min(gains) / 2), max(2, max(gains))
    ax.set_xlim(low, high * 25)
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}x"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1, color="black", linewidth=1.2)
    ax.text(1.05, len(rows) - 0.45, "reference = 1x", fontsize=8, va="bottom")
    ax.set_yticks(list(range(len(rows))))
    ax.set_yticklabels([label(row) for row in rows], fontsize=7.5)
    ax.set_ylim(-0.6, len(rows) - 0.1)
    ax.set_xlabel(
        "reference's server CPU per message / em-websocket-rs's (log scale); in brackets: em-websocket-rs vs reference",
        fontsize=9,
    )
    ax.set_title("Server CPU per message, relative to the reference: higher is better", fontsize=11, loc="left")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", which="major", color="#e2e8f0")
    ax.set_axisbelow(True)


def draw_memory(ax, table):
    rows = [r for r in table if r["key"] == "rss_kb_per_connection"]
    ax.set_title("Memory per idle connection:\nlower is better", fontsize=11, loc="left")
    bars = []
    for row in rows:
        count = textwrap.shorten(row["scenario"].split(":", 1)[-1].strip(), 24)
        for key in (RS, RS_POOL, ORIGINAL):
            value = row["values"].get(key)
            if value is not None:
                colour = {RS: RS_COLOUR, RS_POOL: POOL_COLOUR, ORIGINAL: ORIGINAL_COLOUR}[key]
                bars.append((f"{LABELS[key]}\n{count}", value, colour, row["unit"]))
    if not bars:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    y = range(len(bars))
    ax.barh(list(y), [v for _, v, _, _ in bars], color=[c for _, _, c, _ in bars], height=0.6)
    top = max(v for _, v, _, _ in bars)
    for i, (_, value, _, unit) in zip(y, bars):
        ax.text(value + top * 0.03, i, number(value, unit), va="center", fontsize=8.5)
    ax.set_yticks(list(y))
    ax.set_yticklabels([name for name, _, _, _ in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.5)
    ax.set_xlabel(f"{bars[0][3]}: server RSS growth per connection", fontsize=8.5)
    ax.grid(axis="x", color="#e2e8f0")
    ax.set_axisbelow(True)


def main(argv):
    source = argv[1] if len(argv) > 1 else os.path.join(HERE, "results.json")
    target = argv[2] if len(argv) > 2 else os.path.join(HERE, "results.png")
    with open(source, encoding="utf-8") as f:
        results = json.load(f)
    table, info = results["table"], results["machine"]
    rows = cost_rows(table)
    if not rows:
        print(
            f"chart.py: NOTE: no chart: {source} has no server CPU cost measured on em-websocket-rs and a "
            f"reference ({target} is left as it was)"
        )
        return 0

    height = max(4.2, 0.9 * len(rows) + 2.2)
    fig, (costs, memory) = plt.subplots(
        1, 2, figsize=(15, height), gridspec_kw={"width_ratios": [3, 1]}, constrained_layout=True
    )
    draw_costs(costs, rows)
    draw_memory(memory, table)

    date = info.get("date", "")[:10]
    machine = f"{info.get('nproc')} cores ({info.get('cpu')}), {info.get('kernel')}"
    ruby = " ".join((info.get("ruby") or "").split()[:2])
    title = "em-websocket-rs vs em-websocket and python websockets (the same apps, rake bench)"
    if info.get("quick"):
        title += "  |  BENCH_QUICK smoke run: not for comparison"
    fig.suptitle(
        f"{title}\n{date}, {machine}, {ruby}, commit {info.get('commit') or 'unknown'}, "
        f"median of {info.get('rounds')} round(s); spreads and details in bench/results.md",
        fontsize=10,
    )
    fig.savefig(target, dpi=110)
    print(f"chart.py: wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
