"""The ``crampwatch`` command line: one sub-command per job, errors as one clear line.

Exit status: 0 on success, 2 for bad input (config, trace file, arguments, a backup
that cannot be restored), 1 for an unexpected failure (and from ``doctor`` when
something needs doing), 3 from ``status`` when the daemon is not running.
"""

from __future__ import annotations

import argparse
import sys

from vocabulary.errors import CrampwatchError

EXIT_BAD_INPUT = 2
COMPLETION_SHELLS = ("bash", "zsh", "tcsh")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE",
                        help="TOML configuration file (default: $CRAMPWATCH_CONFIG, "
                             "~/.config/crampwatch/config.toml, /etc/crampwatch/config.toml)")
    parser = argparse.ArgumentParser(prog="crampwatch", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", parents=[common], help="run the daemon")
    p.add_argument("--simulate", action="store_true", help="simulated sensors instead of hardware")
    p.add_argument("--data-dir", help="override device.data_dir")
    p.add_argument("--duration", type=float, help=argparse.SUPPRESS)  # stop after N s (tests, benchmarks)

    p = sub.add_parser("demo", parents=[common], help="simulated sensors, throwaway data, dashboard on localhost")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: run until Ctrl-C)")
    p.add_argument("--night-minutes", type=float, metavar="M",
                   help="length of a simulated night, 10-60 minutes (default: simulator.night_minutes, 12)")

    p = sub.add_parser("replay", help="detect events in a recorded trace; JSON lines on stdout")
    p.add_argument("kind", choices=["bottle", "bed", "counts"])
    p.add_argument("file", metavar="FILE")
    p.add_argument("--density", type=float, default=1.0, help="g per mL of the drink (bottle)")

    p = sub.add_parser("simulate", help="write simulated traces with ground truth")
    p.add_argument("kind", choices=["bottle", "bed", "history"])
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, help="samples per second (bottle 1-80, default 10; bed 25/50/100, default 50)")
    p.add_argument("--nights", type=int, default=1, help="nights to simulate (bed)")
    p.add_argument("--chip", choices=["adxl345", "mpu6050"], default="adxl345", help="accelerometer (bed)")
    p.add_argument("--out", "--data-dir", required=True, metavar="DIR",
                   help="directory to write (history: the data directory to fill)")
    p.add_argument("--days", type=int, default=30, help="days of history to store (history)")

    p = sub.add_parser("export", parents=[common], help="print stored events")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    p.add_argument("--type", action="append", dest="types", metavar="TYPE", help="only this event type (repeatable)")
    p.add_argument("--data-dir", help="override device.data_dir")
    p.add_argument("--summaries", metavar="DIR",
                   help="instead: write daily.csv and nightly.csv summaries (intake, stretching, nights, cramps) into DIR")

    p = sub.add_parser("report", parents=[common], help="write a printable HTML report for a doctor's visit")
    p.add_argument("--weeks", type=int, default=4, help="how many weeks up to last night (default 4)")
    p.add_argument("--out", metavar="FILE", help="write to FILE (default: stdout)")
    p.add_argument("--data-dir", help="override device.data_dir")

    p = sub.add_parser("check-config", parents=[common], help="print the effective configuration or its errors")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--reference", action="store_true", help="print the settings reference (Markdown)")
    out.add_argument("--json", action="store_true",
                     help='print one JSON object: {"valid": true, "config": {...}} or {"valid": false, "errors": '
                          '[{"key", "file", "line", "message"}]} (same exit status)')

    p = sub.add_parser("set-password", parents=[common],
                       help="set the dashboard password (read from stdin when it is not a terminal)")
    p.add_argument("--data-dir", help="override device.data_dir")
    p.add_argument("--remove", action="store_true",
                   help="remove the password (the dashboard then answers only requests from this machine)")

    p = sub.add_parser("calibrate", parents=[common], help="interactive scale calibration")
    p.add_argument("--simulate", action="store_true", help="calibrate the simulated scale")
    p.add_argument("--data-dir", help="override device.data_dir")

    p = sub.add_parser("status", parents=[common], help="health of the running daemon, its storage and MQTT")
    p.add_argument("--data-dir", help="override device.data_dir")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    p = sub.add_parser("doctor", parents=[common],
                       help="after wiring: check GPIO, I2C, the sensors, calibration, MQTT and the dashboard")
    p.add_argument("--simulate", action="store_true", help="run the same checks on the simulator's fake chips")
    p.add_argument("--data-dir", help="override device.data_dir (where the calibration is stored)")

    p = sub.add_parser("backup", parents=[common],
                       help="write a consistent copy of the database to FILE, also while the daemon runs")
    p.add_argument("file", metavar="FILE", help="the backup to write (replaced if it exists); a directory: "
                                                "crampwatch-backup-<date>.sqlite3 in it")
    p.add_argument("--data-dir", help="override device.data_dir")

    p = sub.add_parser("restore", parents=[common], help="replace the database with a backup, after checking it",
                       description="Check FILE (an SQLite database that passes integrity_check, crampwatch's, with a "
                                   "schema this version knows), keep the current database as "
                                   "crampwatch.sqlite3.before-restore-<UTC time> beside it, and write FILE into the "
                                   "database through SQLite's backup API (atomic for every other connection). While "
                                   "the daemon runs, restore refuses unless --force; with --force the daemon sees the "
                                   "restored data at once but keeps what it holds in memory (calibration, reminders, "
                                   "today's figures) until it is restarted, so restart it afterwards.")
    p.add_argument("file", metavar="FILE", help="a backup written by `crampwatch backup` or the dashboard")
    p.add_argument("--data-dir", help="override device.data_dir")
    p.add_argument("--force", action="store_true",
                   help="restore even while the daemon runs (then restart it: systemctl restart crampwatch)")

    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh or tcsh)",
                       description="Print the completion script for SHELL. bash: "
                                   "crampwatch completion bash | sudo tee /etc/bash_completion.d/crampwatch; zsh: "
                                   "crampwatch completion zsh > ~/.zfunc/_crampwatch (with ~/.zfunc in $fpath).")
    p.add_argument("shell", choices=COMPLETION_SHELLS)

    p = sub.add_parser("install-service", help="install the systemd unit (Type=notify, watchdog, sandboxed)")
    p.add_argument("--dest", metavar="DIR", default="/etc/systemd/system",
                   help="directory to write crampwatch.service into (default: /etc/systemd/system)")
    p.add_argument("--create-user", action="store_true",
                   help="create the 'crampwatch' system user and add it to the gpio and i2c groups")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args) or 0
    except CrampwatchError as exc:
        print(f"crampwatch {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        sys.stderr.close()  # `crampwatch export | head` is fine
        return 0
    except KeyboardInterrupt:
        return 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crampwatch")
    except PackageNotFoundError:
        return "unknown"


def _load(args, **overrides):
    from device.config import load_config

    over = {k: v for k, v in overrides.items() if v is not None}
    config, _ = load_config(getattr(args, "config", None), over)
    return config


def cmd_run(args) -> int:
    from device.runtime.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread starts
    from device.daemon import run_daemon

    from device.config import check_data_dir

    config = _load(args, **{"device.data_dir": args.data_dir})
    check_data_dir(config)
    return run_daemon(config, simulate=args.simulate, duration=args.duration)


def cmd_demo(args) -> int:
    """The daemon on simulated sensors; the bed plays time-compressed nights (see
    :class:`simulator.rigs.SimulatedBed`), each reported about two minutes after the
    simulated sleeper got up."""
    from device.runtime.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread starts
    from device.daemon import run_demo

    if args.duration is not None and args.duration <= 0:
        raise _bad("--duration must be positive")
    config = _load(args, **{"simulator.night_minutes": args.night_minutes})
    if config.bed.enabled:
        minutes = config.simulator.night_minutes
        print(f"crampwatch demo: the simulated sleeper's nights last about {minutes:g} minutes: asleep within a "
              f"minute, a cramp a few minutes later, the bedside button pressed; each night is on the Nights page "
              f"about two minutes after they got up (the first after 10-12 minutes)", flush=True)
    return run_demo(config, duration=args.duration)


def cmd_replay(args) -> int:
    from device.cli import replay
    from device.cli.progress import progress_line

    with progress_line("replay") as progress:
        if args.kind == "bottle":
            replay.replay_bottle(args.file, sys.stdout, density=args.density, progress=progress)
        elif args.kind == "bed":
            replay.replay_bed(args.file, sys.stdout, progress=progress)
        else:
            replay.replay_counts(args.file, sys.stdout)
    return 0


def cmd_simulate(args) -> int:
    from simulator.bottle_scenario import plan_day, write_trace

    if args.kind == "history":
        return cmd_simulate_history(args)

    if args.kind == "bed":
        return cmd_simulate_bed(args)
    args.rate = 10.0 if args.rate is None else args.rate
    if not 1 <= args.rate <= 80:
        raise _bad("--rate must be between 1 and 80 samples per second")
    if args.hours <= 0:
        raise _bad("--hours must be positive")
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, truth_path = write_trace(plan_day(args.hours, args.seed), out, args.rate)
    print(f"wrote {csv_path} and {truth_path}", file=sys.stderr)
    return 0


def cmd_simulate_bed(args) -> int:
    from pathlib import Path

    from device.cli.progress import progress_line
    from simulator.night_scenario import plan_night, write_night

    rate = 50.0 if args.rate is None else args.rate
    if rate not in (25.0, 50.0, 100.0):
        raise _bad("--rate for bed traces must be 25, 50 or 100 samples per second")
    if not 1 <= args.nights <= 60:
        raise _bad("--nights must be between 1 and 60")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with progress_line("simulate bed") as progress:
        csv_path, truth_path = write_night(plan_night(args.seed, chip=args.chip, nights=args.nights), out, rate,
                                           progress=progress)
    print(f"wrote {csv_path} and {truth_path}", file=sys.stderr)
    return 0


def cmd_simulate_history(args) -> int:
    import time

    from device.cli.progress import progress_line
    from device.storage.store import Store
    from simulator.history import seed_history

    if not 1 <= args.days <= 3660:
        raise _bad("--days must be between 1 and 3660")
    config = _load(args)
    with Store(args.out) as store, progress_line("simulate history") as progress:
        summary = seed_history(store, args.days, end=time.time(), tz=config.tz, seed=args.seed, progress=progress)
    print(f"stored {summary['events']} events of {summary['days']} days ({summary['first']} to {summary['last']}) "
          f"in {store.path}", file=sys.stderr)
    return 0


def cmd_set_password(args) -> int:
    import getpass

    from dashboard.passwords import hash_password, password_path, remove_hash, write_hash

    config = _load(args, **{"device.data_dir": args.data_dir})
    path = password_path(config)
    if path is None:
        raise _bad("no place for the password: set dashboard.password_file or device.data_dir")
    if args.remove:
        print(f"dashboard password {'removed' if remove_hash(path) else 'was not set'} ({path})", file=sys.stderr)
        _end_dashboard_sessions(config)
        return 0
    if sys.stdin.isatty():
        password = getpass.getpass("New dashboard password: ")
        if getpass.getpass("Again: ") != password:
            raise _bad("the two passwords differ; nothing changed")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    write_hash(path, hash_password(password))
    _end_dashboard_sessions(config)
    print(f"dashboard password set (salted hash in {path}); open sessions are logged out", file=sys.stderr)
    return 0


def _end_dashboard_sessions(config) -> None:
    """Increase the dashboard's session generation in the store, so open sessions end."""
    import sqlite3

    from dashboard.security import end_all_sessions
    from device.storage.store import DB_NAME, Store

    if config.device.data_dir == ":memory:" or not (config.data_path / DB_NAME).exists():
        return  # no database yet: the daemon never ran, so no session to end
    try:
        with Store(config.data_path) as store:
            end_all_sessions(store)
    except (CrampwatchError, sqlite3.Error, OSError) as exc:  # the new hash still ends them
        print(f"warning: could not record the end of open dashboard sessions: {exc}", file=sys.stderr)


def cmd_export(args) -> int:
    from device.storage import export
    from device.storage.store import open_store

    config = _load(args, **{"device.data_dir": args.data_dir})
    if args.summaries:
        return cmd_export_summaries(args, config)
    with open_store(config.data_path) as store:
        events = store.events(types=args.types)
        writer = export.write_jsonl if args.format == "jsonl" else export.write_csv
        writer(events, sys.stdout)
    return 0


def cmd_export_summaries(args, config) -> int:
    from device.insights.report import write_summaries
    from device.storage.store import open_store

    if args.types or args.format != "jsonl":
        raise _bad("--summaries writes its own CSV files; leave out --type and --format")
    with open_store(config.data_path) as store:
        paths = write_summaries(store, config, args.summaries)
    print(f"wrote {' and '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    from device.cli.progress import progress_line
    from device.insights.report import write_report
    from device.storage.store import open_store

    if not 1 <= args.weeks <= 520:
        raise _bad("--weeks must be between 1 and 520")
    config = _load(args, **{"device.data_dir": args.data_dir})
    with open_store(config.data_path) as store, progress_line("report") as progress:
        html = write_report(store, config, args.weeks, progress=progress)
    if args.out:
        try:
            from device.storage.store import private_opener  # health data: the owner's only

            with open(args.out, "w", encoding="utf-8", opener=private_opener) as f:
                f.write(html)
        except OSError as exc:
            raise _bad(f"cannot write {args.out}: {exc.strerror}") from None
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(html)
    return 0


def cmd_check_config(args) -> int:
    from device.config import effective_toml, find_config, reference_markdown

    if args.reference:
        print(reference_markdown())
        return 0
    if args.json:
        return _check_config_json(args)
    from device.config import check_data_dir

    config = _load(args)
    check_data_dir(config)
    path = find_config(args.config)
    print(f"# effective configuration ({path or 'built-in defaults'})")
    print(effective_toml(config), end="")
    return 0


def _check_config_json(args) -> int:
    """``check-config --json``: the verdict as one JSON object on stdout, nothing on stderr."""
    import json

    from device.config import check_data_dir, find_config, problem_details

    path = None
    try:
        path = find_config(args.config)
        config = _load(args)
        check_data_dir(config)
    except CrampwatchError as exc:
        print(json.dumps({"valid": False, "file": None if path is None else str(path),
                          "errors": problem_details(exc, path)}, indent=1))
        return EXIT_BAD_INPUT
    print(json.dumps({"valid": True, "file": None if path is None else str(path),
                      "config": config.model_dump(mode="json")}, indent=1))
    return 0


def cmd_calibrate(args) -> int:
    from device.cli.calibrate import run_calibration

    config = _load(args, **{"device.data_dir": args.data_dir})
    return run_calibration(config, simulate=args.simulate)


def cmd_status(args) -> int:
    from device.cli.status import collect_status, format_status

    config = _load(args, **{"device.data_dir": args.data_dir})
    status = collect_status(config)
    if args.json:
        import json

        print(json.dumps(status, indent=1, sort_keys=True))
    else:
        print(format_status(status), end="")
    return 0 if status["daemon"]["running"] else 3


def cmd_doctor(args) -> int:
    """One line per part, ``ok`` or what to do; exit 1 when something needs doing."""
    from device.cli.doctor import run_doctor

    config = _load(args, **{"device.data_dir": args.data_dir})
    return run_doctor(config, simulate=args.simulate, out=lambda line: print(line, flush=True))


def cmd_backup(args) -> int:
    """A consistent copy of the database (SQLite's online backup API), the daemon running or not."""
    from datetime import datetime
    from pathlib import Path

    from device.cli.status import db_file
    from device.storage.backup import backup

    config = _load(args, **{"device.data_dir": args.data_dir})
    if config.device.data_dir == ":memory:":
        raise _bad("device.data_dir is :memory:: there is no database file to back up")
    target = Path(args.file)
    if target.is_dir():
        target = target / f"crampwatch-backup-{datetime.now(config.tz).date().isoformat()}.sqlite3"
    done = backup(db_file(config), target)
    print(f"backed up {done['events']} events to {done['path']} ({done['bytes'] / 1e6:.1f} MB)", file=sys.stderr)
    return 0


def cmd_restore(args) -> int:
    """Check a backup, keep the current database aside, and write the backup into it."""
    from device.cli.status import daemon_status, db_file
    from device.storage.backup import check_backup, restore

    config = _load(args, **{"device.data_dir": args.data_dir})
    if config.device.data_dir == ":memory:":
        raise _bad("device.data_dir is :memory:: there is no database file to restore into")
    check_backup(args.file)  # a bad file is named before anything else is said
    daemon, _ = daemon_status(config)
    if daemon.get("pid_alive") and not args.force:
        raise _bad(f"the daemon is running (pid {daemon['pid']}); nothing was changed. Stop it first "
                   f"(sudo systemctl stop crampwatch) and restore again, or add --force to restore into the live "
                   f"database and restart the daemon afterwards")
    done = restore(args.file, db_file(config), replace_damaged=not daemon.get("pid_alive"))
    kept = f"; the database before the restore is kept as {done['safety_copy']}" if done["safety_copy"] else ""
    print(f"restored {done['events']} events from {done['path']} into {done['database']}{kept}", file=sys.stderr)
    if daemon.get("pid_alive"):
        print("the daemon reads the restored data from now on; restart it (sudo systemctl restart crampwatch) so "
              "that what it holds in memory (calibration, reminders, today's figures) is read anew", file=sys.stderr)
    return 0


def cmd_completion(args) -> int:
    """The shell completion script, generated from this parser by shtab."""
    import shtab

    parser = build_parser()
    for action in _actions(parser):
        if action.metavar in ("FILE", "DIR"):
            action.complete = shtab.FILE if action.metavar == "FILE" else shtab.DIRECTORY
    print(shtab.complete(parser, shell=args.shell), end="")
    return 0


def _actions(parser: argparse.ArgumentParser):
    """Every argument of ``parser`` and its sub-commands."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)


def cmd_install_service(args) -> int:
    from pathlib import Path

    from device.cli.install_service import install

    install(Path(args.dest), make_user=args.create_user)
    return 0


def _bad(message: str) -> CrampwatchError:
    from vocabulary.errors import ConfigError

    return ConfigError(message)


_COMMANDS = {
    "run": cmd_run, "demo": cmd_demo, "replay": cmd_replay, "simulate": cmd_simulate,
    "export": cmd_export, "check-config": cmd_check_config, "calibrate": cmd_calibrate,
    "set-password": cmd_set_password, "status": cmd_status, "install-service": cmd_install_service,
    "report": cmd_report, "doctor": cmd_doctor, "backup": cmd_backup, "restore": cmd_restore,
    "completion": cmd_completion,
}

if __name__ == "__main__":
    sys.exit(main())
