"""A Prefect 1 style flow that keeps a watermark in the KV store and publishes artifacts."""

from headwater import Flow, task
from headwater.artifacts import create_link
from headwater.backend import get_key_value, set_key_value
from headwater.backend.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    delete_artifact,
    update_markdown_artifact,
)


@task
def read_watermark():
    try:
        return get_key_value("e2e-watermark")
    except ValueError:
        return 0


@task
def process(start):
    end = start + 10
    create_link_artifact(f"https://example.com/batches/{start}-{end}")
    report = create_markdown_artifact(f"# Batch\nprocessing {start}..{end}")
    update_markdown_artifact(report, f"# Batch\nprocessed {start}..{end}")
    scratch = create_link("/scratch")
    delete_artifact(scratch)
    return end


@task
def save(end):
    set_key_value("e2e-watermark", end)
    set_key_value("e2e-history", {"last": end, "tags": ["a", "b"]})


with Flow("e2e-artifacts-kv") as flow:
    save(process(read_watermark()))
