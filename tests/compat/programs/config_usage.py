"""headwater.config: defaults, attribute/item access, environment and user-file overrides."""

import os
import subprocess
import sys
import tempfile

import headwater

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROBE = (
    "import headwater; c = headwater.config; "
    "print(repr((c.flows.checkpointing, c.tasks.defaults.max_retries, c.get('my_section', {}).get('value'))))"
)


def probe(**env):
    full = dict(os.environ, **env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


config = headwater.config
check("checkpointing off by default", config.flows.checkpointing, False)
check("item access", config["flows"]["checkpointing"], False)
check("default max_retries", config.tasks.defaults.max_retries, 0)
check("logging level", config.logging.level, "INFO")
check("get with default", config.get("no_such_section", "fallback"), "fallback")
check("membership", "flows" in config, True)

check(
    "environment overrides with types",
    probe(HEADWATER__FLOWS__CHECKPOINTING="true", HEADWATER__TASKS__DEFAULTS__MAX_RETRIES="2"),
    "(True, 2, None)",
)

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "config.toml")
    with open(path, "w") as handle:
        handle.write("[flows]\ncheckpointing = true\n\n[my_section]\nvalue = 3\n")
    check("user config file", probe(HEADWATER__USER_CONFIG_PATH=path), "(True, 0, 3)")

sys.exit(1 if FAILURES else 0)
