"""Notification state handlers: callback_factory, and slack_notifier posting to a webhook
(here a local HTTP server standing in for Slack)."""

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

POSTS = []


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        POSTS.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


sock = socket.socket()
sock.bind(("127.0.0.1", 0))
PORT = sock.getsockname()[1]
sock.close()
os.environ["HEADWATER__CONTEXT__SECRETS__SLACK_WEBHOOK_URL"] = f"http://127.0.0.1:{PORT}/hook"

# The webhook secret must be in the environment before headwater reads its configuration.
from headwater import Flow, task  # noqa: E402
from headwater.engine.state import Failed  # noqa: E402
from headwater.utilities.notifications import callback_factory, slack_notifier  # noqa: E402

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


SEEN = []


def remember(obj, state):
    SEEN.append((obj.name, type(state).__name__))


only_failures = callback_factory(remember, lambda state: state.is_failed())


@task(state_handlers=[only_failures, slack_notifier(only_states=[Failed])])
def load():
    raise RuntimeError("warehouse unavailable")


@task(state_handlers=[only_failures])
def fine():
    return 1


with Flow("notifications") as flow:
    load()
    fine()


server = HTTPServer(("127.0.0.1", PORT), Webhook)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    state = flow.run()
finally:
    server.shutdown()
check("flow failed", state.is_failed(), True)
check("callback_factory called only on failure", SEEN, [("load", "Failed")])
check("slack_notifier posted once", len(POSTS), 1)
check("the message names the task", "load" in json.dumps(POSTS), True)

sys.exit(1 if FAILURES else 0)
