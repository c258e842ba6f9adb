"""The nightly build: serve `build_curriculum` as a Prefect deployment on a cron schedule.

`serve_build` blocks, polling the Prefect API named by PREFECT_API_URL for scheduled (or manually
triggered) runs of the deployment and running each in a subprocess. Each run asks for a new version
(`new_version=True`), so nights with an unchanged config still publish from unused documents; a
run that crashed is resumed by the next one, since an unfinished build always takes precedence.
"""

from __future__ import annotations

import os
from typing import Any

from pipeline.config import BuildConfig

DEFAULT_CRON = "0 2 * * *"


class ScheduleError(RuntimeError):
    """The schedule cannot be served as asked (e.g. no Prefect server to serve it against)."""


def deployment_name(config: BuildConfig) -> str:
    return f"nightly-{config.dataset}"


def deployment_parameters(config: BuildConfig) -> dict[str, Any]:
    # The resolved config (absolute corpus paths) travels as the run's parameter, so the run does
    # not depend on the directory the runner was started in.
    return {"config": config.model_dump(mode="json"), "new_version": True}


def serve_build(config: BuildConfig, cron: str = DEFAULT_CRON, name: str | None = None,
                limit: int | None = 1) -> None:
    """Serve the nightly deployment until interrupted. `limit`: runs at once (builds share GPUs)."""
    if not os.environ.get("PREFECT_API_URL"):
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():
            raise ScheduleError("PREFECT_API_URL is not set: start a server with `prefect server start` and "
                                "export PREFECT_API_URL=http://127.0.0.1:4200/api (or your team's server)")
    from prefect.deployments.runner import EntrypointType

    from flows.build import build_curriculum

    build_curriculum.serve(
        name=name or deployment_name(config), cron=cron, parameters=deployment_parameters(config),
        description=f"Nightly curriculum build of {config.dataset}", tags=["curriculum", config.dataset],
        limit=limit, entrypoint_type=EntrypointType.MODULE_PATH,
    )
