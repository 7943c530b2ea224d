"""Closing a bench environment ends the stream processes it launched."""

import subprocess
import sys

from pipelines.bench.environment import BenchEnvironment


def test_close_ends_running_streams(tmp_path):
    environment = BenchEnvironment(tmp_path / "run")
    # A sleeping Python process replaces a stream here, because close only needs a process group to end.
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    environment.streams.append(process)

    environment.close()

    assert process.poll() is not None
