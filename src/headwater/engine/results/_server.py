"""``ServerResult`` at its former path; it lives in :mod:`headwater.engine.backend._server_result`."""

from headwater.engine.backend._server_result import (
    ServerResult,
    server_location,
    task_run_id_from_location,
)

__all__ = ["ServerResult", "server_location", "task_run_id_from_location"]
