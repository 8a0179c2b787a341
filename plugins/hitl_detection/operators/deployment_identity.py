"""This Airflow deployment's identity, shared by the run plan (names, folder, tags) and the cost
guard (which resources are its own).

The deployment id is the setting `[hitl_detection] deployment_id` when set, else the installation
id. The installation id is the Airflow Variable `hitl_detection_installation_id`, created with a
random value by the first task that needs it: one per metadata database, so staging and prod
differ even when nobody configured anything, and two deployments given the same deployment_id
still tell their runs apart.
"""

from __future__ import annotations

import secrets

from airflow.configuration import conf
from airflow.sdk import Context, Variable

from hitl_detection.dag_builder.defaults import CONF_SECTION
from hitl_detection.domain.run_owner import DeploymentIdentity, RunOwner

DEPLOYMENT_ID_SETTING = "deployment_id"
INSTALLATION_VARIABLE = "hitl_detection_installation_id"
_INSTALLATION_ID_BYTES = 8  # 16 hex digits


def deployment_identity() -> DeploymentIdentity:
    """Raises ValueError naming the setting or Variable whose value is not a valid id."""
    installation_id = _installation_id()
    deployment_id = conf.get(CONF_SECTION, DEPLOYMENT_ID_SETTING, fallback="").strip()
    try:
        return DeploymentIdentity(deployment_id or installation_id, installation_id)
    except ValueError as error:
        raise ValueError(
            f"setting [{CONF_SECTION}] {DEPLOYMENT_ID_SETTING} or Variable {INSTALLATION_VARIABLE}: {error}"
        ) from error


def run_owner(context: Context) -> RunOwner:
    """The task's run, of its DAG, of this deployment: its run key names what the run writes."""
    return deployment_identity().owner_of(context["dag_run"].dag_id, context["run_id"])


def _installation_id() -> str:
    stored = Variable.get(INSTALLATION_VARIABLE, default=None)
    if stored:
        return stored
    Variable.set(
        INSTALLATION_VARIABLE,
        secrets.token_hex(_INSTALLATION_ID_BYTES),
        description="Tells this Airflow's hitl_detection runs and resources from other deployments'. "
        "Keep it: runs in flight and the cost guard find their resources by it.",
    )
    # Read back: two first tasks racing to create it then mostly agree on the one stored last.
    return Variable.get(INSTALLATION_VARIABLE)
