"""How every CloudGreet process connects to Temporal: one data converter, one set of search attributes."""

from __future__ import annotations

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from cloudgreet.settings import Settings
from workflows.call_options import SEARCH_ATTRIBUTES

log = logging.getLogger(__name__)


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    # A runtime of its own carries the worker's Temporal SDK metrics (cloudgreet.metrics.serve_worker_metrics).
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Registers the call search attributes where the server lets us (dev server, self-hosted)."""
    try:
        existing = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        missing = {
            key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
            for key in SEARCH_ATTRIBUTES
            if key.name not in existing.custom_attributes
        }
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
    except Exception as error:  # noqa: BLE001  (Temporal Cloud refuses this; an operator registers them there)
        log.warning("could not register search attributes %s: %s", [k.name for k in SEARCH_ATTRIBUTES], error)
