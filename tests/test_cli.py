"""The command line as a user runs it: a real subprocess, exit codes, stdout, stderr."""

import json
import subprocess
import sys

import pytest

from device.storage.store import Store
from vocabulary.events import Drink, Refill


def crampwatch(*args, input=None, env=None):
    return subprocess.run([sys.executable, "-m", "device.cli", *map(str, args)], capture_output=True,
                          text=True, input=input, timeout=120, env=env)


def test_check_config_prints_the_effective_configuration(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[device]\nid = "bedroom"\n')
    run = crampwatch("check-config", "--config", path)
    assert run.returncode == 0, run.stderr
    assert 'id = "bedroom"' in run.stdout and "[bottle]" in run.stdout


def test_check_config_reports_every_error_and_exits_2(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[bottle]\nrate_hz = 20\nwat = 1\n")
    run = crampwatch("check-config", "--config", path)
    assert run.returncode == 2
    assert f"{path}:2: bottle.rate_hz" in run.stderr and f"{path}:3: bottle.wat: unknown key" in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("body, where", [
    ("t,grams\n1,2\n2,x\n", ":3:"),
    ("time,grams\n1,2\n", ":1:"),
    ("t,grams\n1,2\n2,3,4\n", ":3:"),
])
def test_replay_bad_input_exits_2_with_one_line_naming_the_line(tmp_path, body, where):
    path = tmp_path / "bottle.csv"
    path.write_text(body)
    run = crampwatch("replay", "bottle", path)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and where in run.stderr


def test_replay_missing_file_exits_2(tmp_path):
    run = crampwatch("replay", "bottle", tmp_path / "nope.csv")
    assert run.returncode == 2 and "no such file" in run.stderr


def test_export_prints_stored_events_as_jsonl_and_csv(tmp_path):
    with Store(tmp_path) as store:
        store.add_events([Drink(t=1764060312.4, ml=152.0), Refill(t=1764063000.1, ml=480.0)])
    run = crampwatch("export", "--data-dir", tmp_path, "--format", "jsonl")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(e["type"], e["id"], e["ml"]) for e in lines] == [
        ("drink", "drink-1764060312400", 152.0), ("refill", "refill-1764063000100", 480.0)]
    run = crampwatch("export", "--data-dir", tmp_path, "--format", "csv", "--type", "refill")
    assert run.stdout.splitlines() == ["id,type,t,ml", "refill-1764063000100,refill,1764063000.1,480.0"]


def test_bad_arguments_exit_2():
    assert crampwatch("replay", "teapot", "x").returncode == 2


def test_simulate_then_replay_finds_the_simulated_drinks(tmp_path):
    run = crampwatch("simulate", "bottle", "--hours", "6", "--seed", "21", "--out", tmp_path)
    assert run.returncode == 0, run.stderr
    truth = [json.loads(line) for line in (tmp_path / "bottle.truth.jsonl").read_text().splitlines()]
    assert (tmp_path / "bottle.csv").read_text().startswith("t,grams\n")
    run = crampwatch("replay", "bottle", tmp_path / "bottle.csv")
    assert run.returncode == 0, run.stderr
    found = [json.loads(line) for line in run.stdout.splitlines()]
    assert truth and len(found) == len(truth)
    for want, got in zip(truth, found):
        assert (got["type"], round(got["ml"])) == (want["type"], pytest.approx(round(want["ml"]), abs=5))
        assert abs(got["t"] - want["t"]) < 10 and got["id"].startswith(got["type"])


def test_simulate_rejects_a_rate_out_of_range(tmp_path):
    run = crampwatch("simulate", "bottle", "--rate", "200", "--out", tmp_path)
    assert run.returncode == 2 and "--rate" in run.stderr


def test_simulate_bed_then_replay_finds_the_night(tmp_path):
    run = crampwatch("simulate", "bed", "--seed", "4", "--rate", "25", "--out", tmp_path)
    assert run.returncode == 0, run.stderr
    truth = [json.loads(line) for line in (tmp_path / "bed.truth.jsonl").read_text().splitlines()]
    run = crampwatch("replay", "bed", tmp_path / "bed.csv")
    assert run.returncode == 0, run.stderr
    found = [json.loads(line) for line in run.stdout.splitlines()]
    sleep_true = next(e for e in truth if e["type"] == "sleep")
    sleep_found = [e for e in found if e["type"] == "sleep"]
    assert len(sleep_found) == 1
    assert abs(sleep_found[0]["start"] - sleep_true["start"]) < 30 * 60
    assert abs(sleep_found[0]["end"] - sleep_true["end"]) < 30 * 60
    for wake in (e for e in found if e["type"] == "wake"):
        assert isinstance(wake["cramp"], bool) and isinstance(wake["bed_exit"], bool) and 0 <= wake["score"] <= 1


def test_replay_counts_bad_row_names_the_line(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("t,count\n0,5\n30,x\n")
    run = crampwatch("replay", "counts", path)
    assert run.returncode == 2 and ":3:" in run.stderr and run.stdout == ""


def test_simulate_bed_rejects_an_unsupported_rate(tmp_path):
    run = crampwatch("simulate", "bed", "--rate", "60", "--out", tmp_path)
    assert run.returncode == 2 and "25, 50 or 100" in run.stderr


@pytest.mark.parametrize("where", ["under-a-file", "proc", "a-file"])
@pytest.mark.parametrize("command", [["check-config"], ["run", "--simulate", "--duration", "5"]])
def test_a_data_dir_that_cannot_hold_the_database_is_one_line_naming_the_key(tmp_path, where, command):
    (tmp_path / "plain").write_text("not a directory\n")
    data_dir = {"under-a-file": tmp_path / "plain" / "data", "proc": "/proc/crampwatch",
                "a-file": tmp_path / "plain"}[where]
    path = tmp_path / "c.toml"
    path.write_text(f'[device]\ndata_dir = "{data_dir}"\n[dashboard]\nenabled = false\n')
    run = crampwatch(*command, "--config", path)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "device.data_dir" in lines[0] and "Traceback" not in run.stderr, run.stderr
    assert (tmp_path / "plain").read_text() == "not a directory\n"  # nothing written over
