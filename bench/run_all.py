"""Runs every benchmark (each in its own process) and prints a markdown summary with the exact
command behind each figure. `make bench` runs this; the raw results go to bench/out/results.json.
While it runs, stderr says which benchmark starts and how long each took.

    .venv/bin/python bench/run_all.py            # full counts (about 5-7 minutes)
    .venv/bin/python bench/run_all.py --quick    # smaller counts, same figures (well under a minute)
"""
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import mpbuild  # noqa: E402


def py_cmd():
    exe = sys.executable
    rel = os.path.relpath(exe, ROOT)
    return rel if not rel.startswith("..") else exe


def bench(script, args, n=None, total=None, log=sys.stderr):
    """Run bench/<script> args; returns (command text, RESULT dict). Says on log when it starts
    and how long it took (n / total: its place in the run)."""
    cmd = [sys.executable, os.path.join(HERE, script)] + args
    text = " ".join([py_cmd(), "bench/" + script] + args)
    where = "[%d/%d] " % (n, total) if n is not None else ""
    log.write("bench: %s%s ...\n" % (where, text))
    log.flush()
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    dt = time.time() - t0
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            log.write("bench: %s%s took %.1f s\n" % (where, script, dt))
            log.flush()
            return text, json.loads(line[7:])
    log.write("bench: %s%s FAILED after %.1f s (exit %s)\n" % (where, script, dt, proc.returncode))
    log.flush()
    raise RuntimeError("%s failed (exit %s):\n%s%s" % (text, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))


def machine():
    cpu = platform.processor() or "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "micropython": mpbuild.micropython_version(), "platform": platform.platform()}


def fmt_counts(d):
    return ", ".join("%s %s" % kv for kv in d.items())


def main(argv):
    quick = "--quick" in argv
    m = machine()
    t0 = time.time()
    res = {"machine": m}
    ev = ["--events", "50000"] if quick else []
    cyc = ["--cycles", "20000"] if quick else []
    runs = [("core_events", "core_events.py", ev), ("office", "office.py", []),
            ("endurance_board", "endurance.py", cyc), ("endurance_core", "endurance.py", ["--core"] + cyc),
            ("heap", "heap.py", ["--seconds", "10" if quick else "60"]),
            ("nfc_poll", "nfc_poll.py", ["--seconds", "10" if quick else "60"]),
            ("idle", "idle.py", ["--minutes", "10" if quick else "60"]),
            ("tap_latency", "tap_latency.py", ["--quick"] + (["--taps", "40"] if quick else [])),
            ("powercut", "powercut.py", ["--cuts", "2000"] if quick else []),
            ("keystore", "keystore.py", ["--lookups", "1000"] if quick else []),
            ("bundle_transfer", "bundle_transfer.py", ["--users", "2000"] if quick else []),
            ("vboard", "vboard.py", ["--runs", "2" if quick else "5"]),
            ("deploy", "deploy.py", ["--runs", "2" if quick else "5"]),
            ("hub", "hub.py", ["--backlog", "3000", "--doors", "10", "--seconds", "5", "--commands", "10"] if quick
             else [])]
    for i, (key, script, args) in enumerate(runs, 1):
        res[key] = bench(script, args, i, len(runs))
    res["total_s"] = time.time() - t0
    sys.stderr.write("bench: all %d done in %.0f s\n" % (len(runs), res["total_s"]))
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", "results.json"), "w") as f:
        json.dump(res, f, indent=1)

    out = []
    w = out.append
    w("# doorkit benchmarks")
    w("")
    w("Machine: %d CPUs (`nproc`), %s; Python %s; MicroPython `%s`; %s. Total %.0f s."
      % (m["nproc"], m["cpu"], m["python"], m["micropython"], m["platform"], res["total_s"]))
    w("")
    cmd, r = res["core_events"]
    cp, mp = r["cpython"], r["micropython"]
    w("## LockCore events/s (`%s`)" % cmd)
    w("")
    w("| runtime | events/s | us/event | heap |")
    w("|---|---|---|---|")
    w("| CPython %s | %d | %.2f | - |" % (cp["version"], cp["events_per_s"], cp["us_per_event"]))
    w("| MicroPython %s unix, `-X heapsize=%s` | %d | %.2f | %d B allocated / 1000 events; retained growth %d B |"
      % (mp["version"], mp["heapsize"], mp["events_per_s"], mp["us_per_event"], mp["alloc_bytes_per_1000"],
         mp["retained_growth_bytes"]))
    w("")
    w("- CPython / MicroPython unix (same run; identical stream and log on both runtimes: %s): **%.2fx**"
      % ("yes" if r["same_stream"] else "NO", r["ratio_cpython_over_micropython"]))
    w("- ESP32 estimate (unix port %d-%dx faster than an ESP32 at 160-240 MHz): **%d-%d events/s**"
      % (mpbuild.ESP32_SLOWDOWN[0], mpbuild.ESP32_SLOWDOWN[1], r["esp32_estimate_events_per_s"][0],
         r["esp32_estimate_events_per_s"][1]))
    w("- stream: %d events (%d timed after a warm-up chunk), %d virtual s; mix: %s"
      % (cp["events"], cp["timed_events"], cp["virtual_s"], fmt_counts(cp["mix"])))
    w("")
    cmd, o = res["office"]
    w("## 30-day office on the virtual board (`%s`)" % cmd)
    w("")
    w("- run time (CPython): **%.2f s** = %.1f virtual days per real second" % (o["wall_s"], o["virtual_days_per_s"]))
    w("- %d passages, **%d door events** (opened + closed), %d interactions (door events + taps + presses + turns), "
      "%d App polls" % (o["passages"], o["door_events"], o["interactions"], o["polls"]))
    w("- people: %s" % fmt_counts(o["counts"]))
    w("- passages by time: %s" % fmt_counts(o["passages_by_time"]))
    w("- %d log records: %s" % (o["log_records"], fmt_counts(o["logs"])))
    w("- by argument: %s" % fmt_counts(o["log_detail"]))
    w("- JAM / RETRY causes: %s" % fmt_counts(o["jam_causes"]))
    w("- **stuck states: %d** %s; end of month: %s -> %s"
      % (o["stuck"], "(by the episode before the failed check: %s)" % fmt_counts(o["stuck_after"]) if o["stuck"] else "",
         fmt_counts(o["final"]), "sane" if o["final_sane"] else "NOT SANE"))
    for s in o["stuck_examples"]:
        w("  - STUCK %s" % s)
    w("")
    w("## Endurance")
    w("")
    w("| runner | command | cycles | run time | cycles/s | virtual days | drives | JAM | RETRY | stuck |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for key in ("endurance_board", "endurance_core"):
        cmd, e = res[key]
        w("| %s | `%s` | %d | %.1f s | %.0f | %.1f | %d | %d | %d | **%d** |"
          % (e["runner"], cmd, e["cycles"], e["wall_s"], e["cycles_per_s"], e["virtual_days"], e["motor_moves"],
             e["jam_records"], e["retry_records"], e["stuck"]))
    for key in ("endurance_board", "endurance_core"):
        cmd, e = res[key]
        w("")
        w("- %s: injected %s; stuck by check: %s" % (e["runner"], fmt_counts(e["injected"]),
                                                      fmt_counts(e["stuck_by_check"]) or "none"))
        for cycle, half, what, lines in e["stuck_examples"]:
            w("  - STUCK cycle %d (%s): %s: %s" % (cycle, half, what, " | ".join(lines)))
    cmd, h = res["heap"]
    w("")
    w("## Whole-firmware heap (`%s`, MicroPython `-X heapsize=%s`)" % (cmd, h["heapsize"]))
    w("")
    m = h["mpy_in_ram"]
    if "error" in m:
        w("- .mpy files copied into RAM: **does not fit** (%s with %d B in use)" % (m["error"], m["heap_used_at_error"]))
    r = h["romfs"]
    if "error" in r:
        w("- ROMFS image, code in place: **does not fit** (%s)" % r["error"])
    else:
        w("- ROMFS image of %d B, code run in place: modules %d B; App, drivers, reader, keypad, battery, key store, "
          "log and tally objects %d B; in use in the steady state %d B (peak %d B), largest free block %d B"
          % (h["romfs_image_bytes"], r["code_bytes"], r["objects_bytes"], r["steady_used"], r["peak_used"],
             r["largest_free_block"]))
        w("- allocated per App.poll (10 ms polls, reader every 100 ms, a decision every 10 s): **%.1f B** over %d "
          "polls; in the seconds with nothing decided or logged: **%.1f B** over %d polls"
          % (r["alloc_per_poll"], r["polls"], r.get("idle_alloc_per_poll", 0), r.get("idle_polls", 0)))
    cmd, r = res["nfc_poll"]
    w("")
    w("## NFC reader (`%s`)" % cmd)
    w("")
    w("NfcReader + PN532 driver over HSU, scripted chip on a fake UART, no card, polled every virtual ms.")
    w("")
    w("| runtime | polls | list cycles | per poll() | slowest poll() | per list cycle | heap per poll | errors |")
    w("|---|---|---|---|---|---|---|---|")
    for name, k in (("MicroPython %s unix, `-X heapsize=%s`" % (r["micropython_version"].split(" ")[0], r["heap"]),
                     "micropython"), ("CPython %s" % m["python"], "cpython")):
        c = r[k]
        heap = ("%.1f B (reader object %d B)" % (c["alloc_bytes_per_poll"], c["heap_reader"])
                if c["alloc_bytes_per_poll"] is not None else "-")
        w("| %s | %d | %d | %.2f us | %d us | %.0f us | %s | %d |" % (name, c["polls"], c["cycles"], c["us_per_poll"],
                                                                    c["us_worst_poll"], c["us_per_cycle"], heap,
                                                                    c["errors"]))
    w("")
    w("| card (wire at 115200 baud, 10 bits a byte) | identity | bytes (host + chip) | wire time | emulated |")
    w("|---|---|---|---|---|")
    for name, x in r["wire_115200"].items():
        w("| %s | %s | %g (%d + %d) | %.2f ms | %d ms |" % (name, x["ident"], x["bytes"], x["host_bytes"],
                                                           x["chip_bytes"], x["wire_ms"], x["emulated_ms"]))
    cmd, r = res["idle"]
    w("")
    w("## Polls per idle hour (`%s`)" % cmd)
    w("")
    w("The board's loop on a virtual clock, the whole firmware with its reader (no card), nobody at the door.")
    w("")
    w("| runtime | loop | polls / idle hour | reader lists / hour | CPU ms / hour |")
    w("|---|---|---|---|---|")
    for name, k in (("MicroPython unix, `-X heapsize=%s`" % r["heapsize"], "micropython"), ("CPython", "cpython")):
        for when, label in (("before", "every %d ms" % r[k]["period_ms"]),
                            ("after", "to the next deadline, at most %d ms" % r[k]["idle_ms"])):
            x = r[k][when]
            w("| %s | %s | %d | %d | %.0f |" % (name, label, x["polls_per_hour"], x["reader_lists_per_hour"],
                                             x["cpu_ms_per_hour"]))
    w("")
    w("- before / after (MicroPython): **%.2fx** polls, %.2fx CPU" % (r["micropython"]["ratio_polls"],
                                                                   r["micropython"]["ratio_cpu"]))
    cmd, r = res["tap_latency"]
    w("")
    w("## Tap-to-unlock latency on the virtual board (`%s`)" % cmd)
    w("")
    w("From a card entering the field to the motor command, %d taps per kind at random phases; the radio "
      "timing is the emulator's model (docs/pn532.md)." % r["taps"])
    w("")
    kinds = list(r["policies"][0]["kinds"])
    w("| policy | field on (no card) | " + " | ".join("%s median / p90 / worst ms" % k for k in kinds) + " |")
    w("|---|---|" + "---|" * len(kinds))
    for p in r["policies"]:
        cells = []
        for k in kinds:
            x = p["kinds"][k]
            c = "%s / %s / %s" % (x["median"], x["p90"], x["worst"])
            cells.append(c + (" (%d failed)" % x["failed"] if x["failed"] else ""))
        w("| %s | %.1f %% | %s |" % (p["name"], p["duty_cycle"] * 100, " | ".join(cells)))
    cmd, r = res["powercut"]
    w("")
    w("## Power cuts (`%s`)" % cmd)
    w("")
    w("A cut at every write op of each swept operation (several lengths of the cut program landing), then "
      "the next boot checks; simulated NOR flash, littlefs as on the board (MicroPython `-X heapsize=%s`: "
      "the flash image lives in the heap)." % r["heap"])
    w("")
    w("| runtime | sweep | operations swept | cuts (program / erase) | cuts/s | write ops per operation "
      "min / mean / max | outcomes |")
    w("|---|---|---|---|---|---|---|")
    for k in ("micropython", "cpython"):
        if k not in r:
            continue
        x = r[k]
        for name in sorted(n for n in x if isinstance(x[n], dict) and "cuts" in x[n]):
            y = x[name]
            w("| %s %s | %s | %d (+%d uncut) | %d (%d / %d) | %.0f | %d / %.1f / %d | %s |"
              % (x["runtime"], x["version"], name, y["sweeps"], y["uncut_ops"], y["cuts"], y["program_cuts"],
                 y["erase_cuts"], y["cuts_per_s"], y["write_ops_per_op"][0], y["write_ops_per_op"][1],
                 y["write_ops_per_op"][2], fmt_counts(dict(sorted(y["outcomes"].items())))))
    cmd, r = res["keystore"]
    w("")
    w("## Key store at 100 / 10,000 / 100,000 credentials (`%s`)" % cmd)
    w("")
    import keystore
    out.extend(keystore.report_lines(r))
    for key, title in (("bundle_transfer", "Key bundle over the USB serial line"),
                       ("vboard", "Virtual board boot, image build, mpremote call"),
                       ("deploy", "Deploying the firmware to a virtual board"),
                       ("hub", "The hub over a real broker: backlog, many doors, commands")):
        cmd, r = res[key]
        w("")
        w("## %s (`%s`)" % (title, cmd))
        w("")
        w("| figure | value |")
        w("|---|---|")
        for k, v in r.items():
            w("| %s | %s |" % (k, json.dumps(v) if isinstance(v, (dict, list)) else v))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
