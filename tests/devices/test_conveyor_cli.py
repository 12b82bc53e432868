"""`rushline sim conveyor` as a real subprocess: first line is a pty path that speaks §4.4."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import tty

from devices.conveyor.protocol import Frame, FrameReader, Hb, Ind, Ping, encode


def read_frame(fd: int, reader: FrameReader, wanted: type, timeout: float = 10.0) -> Frame:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            for frame in reader.feed(os.read(fd, 4096)):
                if isinstance(frame, wanted):
                    return frame
    raise TimeoutError(f"no {wanted.__name__} frame within {timeout}s")


def test_sim_conveyor_prints_path_answers_ping_inducts_stdin_and_exits_cleanly() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rushline",
            "sim",
            "conveyor",
            "--lanes",
            "3",
            "--speed",
            "5",
            "--induct-file",
            "-",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        path = process.stdout.readline().strip()
        assert path.startswith("/dev/pts/"), path
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            reader = FrameReader()
            os.write(fd, encode(Ping(17)))
            assert read_frame(fd, reader, Hb) == Hb(17)
            process.stdin.write("TOTE-0042\n")
            process.stdin.flush()
            assert read_frame(fd, reader, Ind) == Ind(1, "TOTE-0042")
        finally:
            os.close(fd)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_sim_conveyor_bad_arguments_are_one_line() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rushline",
            "sim",
            "conveyor",
            "--induct-file",
            "/nonexistent/totes",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rushline: error: --induct-file /nonexistent/totes: No such file or directory"
    ]
