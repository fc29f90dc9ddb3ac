"""The README's demo (examples/demo.py) runs against each real broker, as on the simulated one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

from tests.integration._brokers import REPO_ROOT, BrokerInfo

DEMO = REPO_ROOT / "examples" / "demo.py"


def test_the_demo_runs_against_the_broker(broker: BrokerInfo) -> None:
    host, port = broker.address
    env = {
        **os.environ,
        "STOMP_URI": f"tcp://{host}:{port}",
        "STOMP_LOGIN": broker.login,
        "STOMP_PASSCODE": broker.passcode,
        "STOMP_VHOST": broker.vhost,
    }
    done = subprocess.run(
        [sys.executable, str(DEMO)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"using tcp://{host}:{port} from STOMP_URI" in done.stdout
    assert "OK: every step of the demo held" in done.stdout
    assert "handler-error: ValueError" in done.stdout
    assert "reconnected, resubscribed 2" in done.stdout
    assert "[asyncio] disconnected cleanly" in done.stdout


def test_the_readme_example_runs_against_the_broker(broker: BrokerInfo) -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    host, port = broker.address
    queue = f"/queue/readme-{uuid.uuid4().hex}"
    source = (
        example.replace("tcp://localhost:61613", f"tcp://{host}:{port}")
        .replace(
            'login="admin", passcode="admin"',
            f"login={broker.login!r}, passcode={broker.passcode!r}",
        )
        .replace("/queue/orders", queue)
    )
    assert source.count(queue) == 2
    scope: dict[str, object] = {}
    exec(compile(source, "README.md", "exec"), scope)
    message = scope["message"]
    assert message is not None
    assert getattr(message, "body", None) == b"order 1"
