"""``crampwatch replay`` on inputs that are short, absurd or damaged: never a traceback.

A recording too short for a night is no error (no events, exit 0, as with an empty
one); a number no sensor or clock produces is a bad file: exit status 2 and one line
on stderr naming the file and the line (DESIGN.md, the replay contract).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from device.cli.main import main
from sensors.night_periods import oakley_weights, score_counts


def crampwatch(*args):
    return subprocess.run([sys.executable, "-m", "device.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False)


def actiware(rows, *, epoch="30", offset="+01:00", before_table=""):
    """A small Actiware export: the header block, then an epoch-by-epoch table of ``(date, time, count)``."""
    head = ('"Actiware Export File  (Version 05.00 )"\n"Identity:","TEST"\n'       # lines 1-2
            f'"Time Zone Offset:","{offset}","hours:minutes"\n'                    # line 3
            f'"Epoch Length:","{epoch}","seconds"\n'                               # line 4
            f'{before_table}\n'                                                    # line 5
            '"Line","Date","Time","Activity","Marker","White Light","Sleep/Wake","Interval Status",\n')  # line 6
    return head + "".join(f'"{i + 1}","{d}","{t}","{c}","0","0.01","0","ACTIVE",\n'  # epochs from line 7
                          for i, (d, t, c) in enumerate(rows))


def epochs(n, count="5"):
    return [("04/07/2015", f"{21 + i * 30 // 3600:02d}:{i * 30 // 60 % 60:02d}:{i * 30 % 60:02d}", count)
            for i in range(n)]


def test_a_counts_file_shorter_than_the_scoring_window_is_no_events_not_a_traceback(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("t,count\n1764100000,5\n1764100030,120\n1764100060,3\n")
    run = crampwatch("replay", "counts", path)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_an_actiware_export_dated_in_9999_at_99_oclock_is_one_line_naming_the_line(tmp_path):
    path = tmp_path / "rpx.csv"
    path.write_text(actiware([("9999/12/31", "99:00", "5"), ("9999/12/31", "99:00:30", "5")]))
    run = crampwatch("replay", "counts", path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [f"crampwatch replay: {path}:7: not a valid time '99:00'"]


@pytest.mark.parametrize("rows", range(2, 12))
def test_short_counts_files_give_no_events(tmp_path, capsys, rows):
    path = tmp_path / "c.csv"
    path.write_text("t,count\n" + "".join(f"{1764100000 + 30 * i},{(i * 37) % 200}\n" for i in range(rows)))
    assert main(["replay", "counts", str(path)]) == 0
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("epoch_s", [10.0, 15.0, 30.0, 60.0])
def test_scoring_is_one_verdict_per_epoch_however_short(epoch_s):
    width = len(oakley_weights(epoch_s))
    for n in range(1, width + 3):
        counts = np.arange(n) * 40.0
        awake = score_counts(counts, epoch_s)
        assert awake.shape == (n,)
        full = np.convolve(counts, oakley_weights(epoch_s))  # the window centred on each epoch
        assert list(awake) == list(full[(width - 1) // 2:][:n] > 40.0)


def test_a_short_actiware_export_gives_no_events(tmp_path, capsys):
    path = tmp_path / "rpx.csv"
    path.write_text(actiware(epochs(3)))
    assert main(["replay", "counts", str(path)]) == 0
    assert capsys.readouterr() == ("", "")


T0 = 1764100000


def rows_csv(header, rows):
    return header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)


BAD = [  # kind, file body, the line the error names, words in it
    ("counts", rows_csv("t,count", [(0, 1), (1e300, 2)]), 3, "not a Unix time between 1970 and 9999"),
    ("counts", rows_csv("t,count", [(-1e18, 1), (0, 2)]), 2, "not a Unix time"),
    ("counts", rows_csv("t,count", [(T0 + 30 * i, 1e308) for i in range(50)]), 2, "count 1e+308 is out of range"),
    ("counts", rows_csv("t,count", [(T0 + 30 * i, 5 if i != 7 else -3) for i in range(50)]), 9, "count -3 is negative"),
    ("counts", rows_csv("t,count", [(T0, 1), (T0 + 0.001, 2), (T0 + 0.002, 3)]), 3, "fixed epoch of 10 to 60 s"),
    ("counts", rows_csv("t,count", [(T0 + i, i % 7) for i in range(200)]), 3, "rows are 1 s apart"),
    ("counts", rows_csv("t,count", [(T0 + 3600 * i, 1) for i in range(20)]), 3, "rows are 3600 s apart"),
    ("counts", rows_csv("t,count", [(T0, 1), (T0 + 30, 2), (T0 + 60, 3), (T0 + 1e10, 4)]), 5,
     "days after the first row's; a counts recording spans at most 366 days"),
    ("counts", rows_csv("time,count", [(T0, 1), (T0 + 30, 2)]), 1, "header is 'time,count'"),
    ("counts", actiware([("31/12/9999", "99:00", "5")] * 2), 7, "not a valid time '99:00'"),
    ("counts", actiware([("04/07/2015", "13:00 PM", "5")] * 2), 7, "not a valid time '13:00 PM'"),
    ("counts", actiware(epochs(3), epoch="0"), 4, "epoch length '0' is not a number of seconds"),
    ("counts", actiware(epochs(3), epoch="nan"), 4, "epoch length 'nan'"),
    ("counts", actiware(epochs(3), epoch="1e308"), 4, "epoch length '1e308'"),
    ("counts", actiware(epochs(3), offset="+99:99"), 3, "time zone offset '+99:99'"),
    ("counts", actiware(epochs(40, count="1e308")), 7, "count 1e+308 is out of range"),
    ("counts", actiware(epochs(40, count="inf")), 7, "count inf is out of range"),
    ("counts", actiware(epochs(40, count="-5")), 7, "count -5 is negative"),
    ("counts", actiware([("04/07/2015", f"21:{m:02d}:00", "5") for m in range(0, 60, 2)]), 8,
     "rows are 120 s apart"),
    ("counts", actiware(epochs(3), before_table='"REST","1","31/12/9999","99:00:00","01/01/2015","01:00:00","x"'),
     5, "not a valid time '99:00:00'"),
    ("bottle", rows_csv("t,grams", [(T0, 1e308), (T0 + 1, -1e308), (T0 + 2, 5)]), 2, "grams 1e+308 is out of range"),
    ("bottle", rows_csv("t,grams", [(T0, 500), (T0 + 1, 400), (1e15, 300)]), 4, "not a Unix time"),
    ("bed", rows_csv("t,x,y,z", [(T0 + 0.02 * i, 0, 1e308 if i == 5 else 0, 1) for i in range(50)]), 7,
     "y 1e+308 is out of range"),
    ("bed", rows_csv("t,x,y,z", [(T0, 0, 0, 1), (1e15, 0, 0, 1)]), 3, "not a Unix time"),
]


@pytest.mark.parametrize("kind, body, line, words", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_every_bad_input_is_exit_2_and_one_line_naming_the_file_and_line(tmp_path, capsys, kind, body, line, words):
    path = tmp_path / f"{kind}.csv"
    path.write_text(body)
    assert main(["replay", kind, str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith(f"crampwatch replay: {path}:{line}: "), err
    assert words in err
