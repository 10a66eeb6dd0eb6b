"""A realistic pipeline: list files, map a flaky reader with retries over them on threads,
count words, reduce, checkpoint the report, and notify through a state handler."""

import os
import tempfile

os.environ["HEADWATER__FLOWS__CHECKPOINTING"] = "true"

import sys
from collections import Counter
from datetime import timedelta

import headwater
from headwater import Flow, Parameter, task, unmapped
from headwater.engine.results import LocalResult
from headwater.executors import LocalDaskExecutor

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


NOTIFICATIONS = []
READS = Counter()


def notify(obj, old_state, new_state):
    if new_state.is_finished():
        NOTIFICATIONS.append((obj.name, type(new_state).__name__))
    return new_state


@task
def list_files(directory):
    return sorted(os.path.join(directory, name) for name in os.listdir(directory))


@task(max_retries=2, retry_delay=timedelta(seconds=0), tags=["io"])
def read_file(path):
    READS[path] += 1
    if path.endswith("b.txt") and READS[path] == 1:
        raise OSError("transient read error")
    with open(path) as handle:
        return handle.read()


@task
def count_words(text, lowercase):
    words = text.split()
    return Counter(w.lower() if lowercase else w for w in words)


@task(checkpoint=True, state_handlers=[notify])
def merge_counts(counts):
    logger = headwater.context.get("logger")
    total = Counter()
    for c in counts:
        total.update(c)
    logger.info("merged %d files", len(counts))
    return dict(total.most_common(2))


def build(result_dir):
    with Flow("word-count", state_handlers=[notify], result=LocalResult(dir=result_dir)) as flow:
        directory = Parameter("directory")
        lowercase = Parameter("lowercase", default=True)
        files = list_files(directory)
        texts = read_file.map(files)
        counts = count_words.map(texts, lowercase=unmapped(lowercase))
        report = merge_counts(counts)
    return flow, texts, report


data = tempfile.mkdtemp()
results = tempfile.mkdtemp()
for name, text in {"a.txt": "the cat The dog", "b.txt": "the bird", "c.txt": "a cat"}.items():
    with open(os.path.join(data, name), "w") as handle:
        handle.write(text)

flow, texts, report = build(results)
state = flow.run(parameters={"directory": data}, executor=LocalDaskExecutor(num_workers=3))
check("flow succeeded", state.is_successful(), True)
check("report", state.result[report].result, {"the": 3, "cat": 2})
check("only the flaky file was read twice", sorted(READS.values()), [1, 1, 2])
check(
    "mapped children all succeeded",
    [s.is_successful() for s in state.result[texts].map_states],
    [True, True, True],
)
check("report checkpointed", len(os.listdir(results)) >= 1, True)
check("notifications", NOTIFICATIONS, [("merge_counts", "Success"), ("word-count", "Success")])
check("tags on the mapped task", read_file.tags, {"io"})

state = flow.run(parameters={"directory": data, "lowercase": False}, executor=LocalDaskExecutor())
check("second run with a parameter", state.result[report].result, {"the": 2, "cat": 2})

sys.exit(1 if FAILURES else 0)
