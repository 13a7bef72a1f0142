"""Command-line conventions, through the real console script: progress on a terminal and
silence when piped, shell completion, and ``check-config --json``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from device.cli.main import build_parser
from device.storage.store import Store
from simulator.history import seed_history
from tests.test_insights import TZ

CRAMPWATCH = str(Path(sys.executable).with_name("crampwatch"))  # the installed console script
CLEAR = "\r\x1b[K"  # how the progress line redraws itself


def crampwatch(*args, timeout=180):
    return subprocess.run([CRAMPWATCH, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def on_a_terminal(*args, timeout=180) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (stdout piped, as `crampwatch replay ... > events.jsonl`);
    return the exit status, stdout and what the terminal showed."""
    master, slave = os.openpty()
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc = subprocess.run([CRAMPWATCH, *map(str, args)], stdout=subprocess.PIPE, stderr=slave, timeout=timeout)
    finally:
        os.close(slave)
        reader.join(10)
        os.close(master)
    return proc.returncode, proc.stdout.decode(), b"".join(shown).decode(errors="replace")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("history")
    with Store(data) as store:
        seed_history(store, 20, end=time.time(), tz=TZ, seed=2)
    return data


# -- progress ----------------------------------------------------------------------------

def test_simulate_and_replay_bed_show_progress_on_a_terminal_and_are_quiet_when_piped(tmp_path):
    tty, piped = tmp_path / "tty", tmp_path / "piped"
    code, _, shown = on_a_terminal("simulate", "bed", "--seed", "4", "--rate", "25", "--out", tty)
    assert code == 0, shown
    assert f"{CLEAR}simulate bed:  " in shown and "100.0%" in shown and f"wrote {tty / 'bed.csv'}" in shown
    run = crampwatch("simulate", "bed", "--seed", "4", "--rate", "25", "--out", piped)
    assert run.returncode == 0 and "%" not in run.stderr and "\r" not in run.stderr
    assert run.stderr.strip() == f"wrote {piped / 'bed.csv'} and {piped / 'bed.truth.jsonl'}"
    assert (tty / "bed.csv").read_bytes() == (piped / "bed.csv").read_bytes()  # showing changes nothing

    code, events, shown = on_a_terminal("replay", "bed", tty / "bed.csv")
    assert code == 0, shown
    assert f"{CLEAR}replay: reading {tty / 'bed.csv'}" in shown and "replay: analysing" in shown
    assert shown.endswith(CLEAR)  # the line is wiped at the end
    run = crampwatch("replay", "bed", tty / "bed.csv")
    assert run.returncode == 0 and run.stderr == "" and run.stdout == events  # same events, nothing on stderr


def test_simulate_history_and_report_show_progress_on_a_terminal_and_are_quiet_when_piped(tmp_path, history):
    code, _, shown = on_a_terminal("simulate", "history", "--days", "10", "--data-dir", tmp_path / "tty")
    assert code == 0, shown
    assert f"{CLEAR}simulate history: 100.0%" in shown and "stored " in shown
    run = crampwatch("simulate", "history", "--days", "10", "--data-dir", tmp_path / "piped")
    assert run.returncode == 0 and "%" not in run.stderr and run.stderr.startswith("stored ")

    code, html, shown = on_a_terminal("report", "--data-dir", history, "--weeks", "2")
    assert code == 0, shown
    assert f"{CLEAR}report: analysing 2 weeks" in shown and "report: drawing 14 nights" in shown
    assert html.startswith("<!doctype html>")
    run = crampwatch("report", "--data-dir", history, "--weeks", "2")
    assert run.returncode == 0 and run.stderr == "" and run.stdout.startswith("<!doctype html>")


def test_the_progress_line_redraws_at_most_every_interval_and_always_at_the_end():
    from device.cli.progress import Progress

    out, now = [], [0.0]

    class Terminal:
        def write(self, text):
            out.append(text)

        def flush(self):
            pass

    progress = Progress("simulate", Terminal(), interval_s=5.0, clock=lambda: now[0])
    for k in range(1, 11):
        now[0] = float(k)
        progress(k / 10)
    progress.close()
    assert out == [f"{CLEAR}simulate:  10.0%", f"{CLEAR}simulate:  60.0%", f"{CLEAR}simulate: 100.0%", CLEAR]


# -- completion --------------------------------------------------------------------------

def subcommands() -> list[str]:
    return [a for a in build_parser()._subparsers._group_actions[0].choices]


def test_completion_bash_completes_commands_and_options():
    run = crampwatch("completion", "bash")
    assert run.returncode == 0 and run.stderr == ""
    script = run.stdout
    for name in subcommands():
        assert name in script
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        probe = (f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMP_LINE='{line}'; "
                 f"COMP_POINT=${{#COMP_LINE}}; _shtab_crampwatch crampwatch '{words[-1]}' '{words[-2]}'; "
                 'printf "%s\\n" "${COMPREPLY[@]}"')
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("crampwatch", "res") == ["restore"]
    assert complete("crampwatch", "check-config", "--j") == ["--json"]
    assert complete("crampwatch", "completion", "z") == ["zsh"]


def test_completion_zsh_names_every_command():
    run = crampwatch("completion", "zsh")
    assert run.returncode == 0 and run.stdout.startswith("#compdef crampwatch")
    for name in subcommands():
        assert name in run.stdout
    assert "_files" in run.stdout  # FILE arguments complete file names


def test_completion_for_an_unknown_shell_exits_2():
    run = crampwatch("completion", "cmd.exe")
    assert run.returncode == 2 and "invalid choice" in run.stderr


# -- check-config --json -----------------------------------------------------------------

def test_check_config_json_of_a_good_configuration(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[device]\nid = "bedroom"\ndata_dir = "{tmp_path / "data"}"\n')
    run = crampwatch("check-config", "--json", "--config", path)
    assert run.returncode == 0 and run.stderr == ""
    result = json.loads(run.stdout)
    assert result["valid"] is True and result["file"] == str(path) and "errors" not in result
    assert result["config"]["device"]["id"] == "bedroom" and result["config"]["bottle"]["rate_hz"] == 10


def test_check_config_json_lists_every_error_with_key_file_and_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[bottle]\nrate_hz = 20\nwat = 1\n")
    run = crampwatch("check-config", "--json", "--config", path)
    assert run.returncode == 2 and run.stderr == ""
    result = json.loads(run.stdout)
    assert result["valid"] is False and result["file"] == str(path)
    errors = {e["key"]: e for e in result["errors"]}
    assert errors["bottle.rate_hz"]["file"] == str(path) and errors["bottle.rate_hz"]["line"] == 2
    assert errors["bottle.wat"]["line"] == 3 and errors["bottle.wat"]["message"].startswith("unknown key")
    # the text form says the same
    text = crampwatch("check-config", "--config", path)
    assert text.returncode == 2 and f"{path}:2: bottle.rate_hz" in text.stderr


@pytest.mark.parametrize("body, key, line", [
    ('[device]\ndata_dir = "/proc/crampwatch"\n', "device.data_dir", 2),
    ("[device\n", None, 1),
])
def test_check_config_json_names_the_line_of_other_errors(tmp_path, body, key, line):
    path = tmp_path / "c.toml"
    path.write_text(body)
    run = crampwatch("check-config", "--json", "--config", path)
    assert run.returncode == 2
    (error,) = json.loads(run.stdout)["errors"]
    assert (error["key"], error["file"], error["line"]) == (key, str(path), line)


def test_check_config_json_of_a_missing_file(tmp_path):
    run = crampwatch("check-config", "--json", "--config", tmp_path / "nope.toml")
    assert run.returncode == 2
    (error,) = json.loads(run.stdout)["errors"]
    assert error["file"] == str(tmp_path / "nope.toml") and error["message"] == "config file not found"
