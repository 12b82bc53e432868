"""The print spool over a real TCP socket to the printer simulator, on real SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from devices.printer import open_printer
from devices.printer.escpos import EscposPrinter
from devices.printer.labels import PickLabel, render_pick_label
from devices.printer.sim import PrinterSim
from devices.printer.spool import JobState, Spool, SpoolError
from tests.support.waiting import free_port, wait_until


def job(n: int) -> bytes:
    return render_pick_label(PickLabel(f"ORD-{n}", f"TOTE-{n:04d}", "P3", 1))


def factory(port: int) -> Callable[[], EscposPrinter]:
    return lambda: open_printer(f"tcp://127.0.0.1:{port}?timeout=2")


def printed_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("*.bin"))


@pytest.fixture
def port() -> int:
    return free_port()


def new_spool(path: Path, port: int, **kwargs: object) -> Spool:
    return Spool(path, factory(port), retry_base=0.02, retry_cap=0.2, **kwargs)  # type: ignore[arg-type]


def test_offline_printer_holds_the_job_until_it_comes_up(tmp_path: Path, port: int) -> None:
    printed: list[str] = []
    out = tmp_path / "out"
    with new_spool(tmp_path / "spool.db", port, on_printed=printed.append) as spool:
        assert spool.submit("job-1", "pick_label", "ORD-1", job(1)) is True
        wait_until(lambda: "not ready" in spool.last_status, what="an offline check")
        assert spool.wait_idle(0.3) is False
        assert [j.state for j in spool.jobs()] == [JobState.QUEUED]
        with PrinterSim("127.0.0.1", port, out) as sim:
            assert spool.wait_idle(10)
            assert [j.data for j in sim.jobs] == [job(1)]
        assert printed == ["job-1"]
        assert spool.jobs()[0].state is JobState.PRINTED
    assert printed_files(out) == ["0001-ORD-1-pick.bin"]


def test_paper_out_holds_paper_ok_prints(tmp_path: Path, port: int) -> None:
    with PrinterSim("127.0.0.1", port, tmp_path / "out", paper="out") as sim:
        with new_spool(tmp_path / "spool.db", port) as spool:
            spool.submit("job-1", "pick_label", "ORD-1", job(1))
            wait_until(lambda: sim.status_queries >= 6, what="three status checks")
            assert sim.jobs == [] and spool.pending() == 1
            sim.set_paper("low")  # low paper still prints
            assert spool.wait_idle(10)
            assert len(sim.jobs) == 1 and spool.pending() == 0


def test_restart_mid_queue_loses_nothing_and_prints_nothing_twice(
    tmp_path: Path, port: int
) -> None:
    out = tmp_path / "out"
    db = tmp_path / "spool.db"
    with PrinterSim("127.0.0.1", port, out) as sim:
        # The first spool runs out of paper after two jobs, then the process "stops".
        def after_print(job_id: str) -> None:
            if len(sim.jobs) == 2:
                sim.set_paper("out")

        first = new_spool(db, port, on_printed=after_print)
        for n in range(1, 6):
            assert first.submit(f"job-{n}", "pick_label", f"ORD-{n}", job(n))
        first.start()
        wait_until(lambda: len(sim.jobs) == 2 and "not ready" in first.last_status)
        first.close()
        # A crash between "sending" and "printed" leaves a job marked sending: it is
        # pending for the next spool (at-least-once), never dropped.
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE print_jobs SET state='sending' WHERE job_id='job-3'")
        conn.close()
        sim.set_paper("ok")
        with new_spool(db, port) as second:
            assert second.pending() == 3
            assert second.submit("job-1", "pick_label", "ORD-1", job(1)) is False
            assert second.wait_idle(10)
            states = {j.job_id: j.state for j in second.jobs()}
        assert set(states.values()) == {JobState.PRINTED}
    assert printed_files(out) == [f"000{n}-ORD-{n}-pick.bin" for n in range(1, 6)]


def test_duplicate_submit_is_a_no_op(tmp_path: Path, port: int) -> None:
    with PrinterSim("127.0.0.1", port, tmp_path / "out") as sim:
        with new_spool(tmp_path / "spool.db", port) as spool:
            assert spool.submit("job-1", "pick_label", "ORD-1", job(1)) is True
            assert spool.submit("job-1", "pick_label", "ORD-1", job(2)) is False
            assert spool.wait_idle(10)
            assert spool.submit("job-1", "pick_label", "ORD-1", job(1)) is False
            assert spool.wait_idle(1)
            assert len(spool.jobs()) == 1
        assert [j.data for j in sim.jobs] == [job(1)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "pick_label", "ORD-1", b"x"), "job_id"),
        (("j", "poster", "ORD-1", b"x"), "kind"),
        (("j", "pick_label", "ORD-1", b""), "data"),
    ],
)
def test_bad_jobs_are_refused_and_change_nothing(
    tmp_path: Path, port: int, args: tuple[str, str, str, bytes], message: str
) -> None:
    spool = new_spool(tmp_path / "spool.db", port)
    try:
        with pytest.raises(SpoolError, match=message):
            spool.submit(*args)
        assert spool.jobs() == []
    finally:
        spool.close()


def test_spool_file_is_wal(tmp_path: Path, port: int) -> None:
    spool = new_spool(tmp_path / "spool.db", port)
    try:
        assert spool.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert spool.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        spool.close()
