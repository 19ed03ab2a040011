"""The mix's figures: a table on the terminal, var/bench/mix.json and var/bench/mix.png."""
import json
import os

from mix import ROUTES

# a generator process near a full core limits the figures; sending late (with CPU to
# spare) means the machine is saturated, so the arrivals came in bursts
GENERATOR_CPU_LIMIT_PERCENT = 70
GENERATOR_LAG_LIMIT_MS = 10


def report(mix, out_dir, name="mix", served_by="through the gateway"):
    print_table(mix, served_by)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(mix, indent=2))
    plotted = plot(mix, out_dir / f"{name}.png", served_by)
    where = os.path.relpath(out_dir)
    print(f"\nmix figures saved to {where}/{name}.json" + (f" and {where}/{name}.png" if plotted else ""))


def compare(distributed, monolith):
    """The price of the architecture: distributed / monolith, level by level."""
    print("\nthe distributed stack against the monolith peer (distributed / monolith)")
    print(f"  {'load':<14}{'req/s':>16}{'ratio':>8}{'p99 ms':>22}{'ratio':>8}")
    for ours, theirs in zip(distributed["levels"], monolith["levels"], strict=True):
        label = f"{ours['offered_rps']:g}/s open" if ours["loop"] == "open" else f"{ours['clients']} clients"
        a, b = ours["all"], theirs["all"]
        print(f"  {label:<14}{a['rps']:>7.0f} /{b['rps']:>7.0f}{ratio(a['rps'], b['rps']):>8}"
              f"{ms(a['p99_ms']):>10} /{ms(b['p99_ms']):>10}{ratio(a['p99_ms'], b['p99_ms']):>8}")


def ratio(ours, theirs):
    return "-" if not ours or not theirs else f"{ours / theirs:.2f}"


def print_table(mix, served_by="through the gateway"):
    print(f"\nhotel-reservation mix {served_by} ({shares()}), {mix['seconds']} s a level")
    print("  open loop: latency from the scheduled send time; req/s: answers within the level's time")
    print(f"  {'load':<14}{'route':<8}{'sent':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for level in mix["levels"]:
        label = (f"{level['offered_rps']:g}/s open" if level["loop"] == "open"
                 else f"{level['clients']} clients")
        for route, row in [*level["routes"].items(), ("all", level["all"])]:
            print(f"  {label:<14}{route:<8}{row['requests']:>7}{row['rps']:>8.1f}"
                  + "".join(f"{ms(row[q]):>9}" for q in ("p50_ms", "p95_ms", "p99_ms"))
                  + f"{row['errors']:>8}")
            label = ""
        generator = level["generator"]
        lag = generator["send_lag_p99_ms"]
        print(f"  {'':<14}bookings completed {level['bookings_per_s']:.2f}/s;"
              f" generator {generator['cpu_percent_of_core']:.0f}% of a core per process"
              f" ({generator['cpu_percent_of_machine']:.0f}% of the machine)"
              + (f", sends late by {lag:.1f} ms at p99" if lag is not None else ""))
        idle = level["stack_idle_after_s"]
        if idle is None or idle >= 1:  # requests the generator gave up on, still queued in the stack
            print(f"  {'':<14}the stack was still working off its queue "
                  + (f"for {idle:.0f} s after the level" if idle is not None else "a minute after the level"))
        if generator["cpu_percent_of_core"] > GENERATOR_CPU_LIMIT_PERCENT:
            print(f"  {'':<14}!! the generator nears a full core: it may limit this level's figures")
        elif (lag or 0) > GENERATOR_LAG_LIMIT_MS:
            print(f"  {'':<14}!! the cores are saturated: the generator got the CPU late and sent in bursts")
    cpu = mix["levels"][-1].get("cpu_ms_per_request")
    if cpu:
        print(f"  CPU per request at saturation, ms (the level's CPU seconds over its requests, the settling"
              f" after it included): {sum(cpu.values()):.2f} in all; "
              + ", ".join(f"{name} {spent:.2f}" for name, spent in cpu.items()))
    kinds = sorted({kind for level in mix["levels"] for kind in level["all"]["error_kinds"]})
    if kinds:
        print(f"  errors seen: {', '.join(kinds)} (by level and route in mix.json)")


def shares():
    return ", ".join(f"{share:g}% {route}" for route, share in ROUTES.items())


def ms(value):
    return "-" if value is None else f"{value:.1f}"


def plot(mix, path, served_by):
    """p50/p95/p99 of the whole mix (log scale) against the offered and the achieved
    load; False when matplotlib is missing (`make bench` installs it)."""
    try:
        import matplotlib
        matplotlib.use("Agg")  # no display: write the file only
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nno plot: matplotlib is not installed (`make bench` installs it)")
        return False
    open_levels = [level for level in mix["levels"] if level["loop"] == "open"]
    figure, (offered, achieved) = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for q, marker in (("p50_ms", "o"), ("p95_ms", "s"), ("p99_ms", "^")):
        latency = [nan_if_none(level["all"][q]) for level in open_levels]
        offered.plot([level["offered_rps"] for level in open_levels], latency, marker=marker, label=q[:3])
        line, = achieved.plot([level["all"]["rps"] for level in open_levels], latency, marker=marker,
                              label=f"{q[:3]} open loop")
        for level in mix["levels"]:
            if level["loop"] == "closed":
                achieved.plot(level["all"]["rps"], nan_if_none(level["all"][q]), marker="*", markersize=14,
                              linestyle="", color=line.get_color(),
                              label=f"{q[:3]} saturation ({level['clients']} clients)")
    for level in open_levels:  # which offered rate each achieved point came from
        point = (level["all"]["rps"], nan_if_none(level["all"]["p99_ms"]))
        achieved.annotate(f"{level['offered_rps']:g}/s offered", point, textcoords="offset points",
                          xytext=(4, 6), fontsize="x-small")
    offered.set_xlabel("offered load, requests/s (open loop)")
    achieved.set_xlabel("achieved load, answers/s")
    offered.set_ylabel("latency, ms (from the scheduled send time)")
    for axes in (offered, achieved):
        axes.set_yscale("log")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(f"Booking: hotel-reservation mix {served_by} ({shares()})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def nan_if_none(value):
    return float("nan") if value is None else value
