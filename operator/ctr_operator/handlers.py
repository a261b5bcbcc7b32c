"""The kopf handlers: every trigger runs the same idempotent reconciliation.

- create, update (spec changes) and resume (operator restart) of a Producer;
- any event on a Deployment or ConfigMap the operator manages (edited or deleted behind its back);
- a periodic resync of every Producer, which also refreshes the status.

No handler needs a finalizer (no deletion handler, no timer or daemon): deleting a Producer
never waits for the operator; its objects go by garbage collection through ownerReferences.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ctr.kube import load_kubernetes_config
from ctr_operator import crd
from ctr_operator.reconcile import reconcile

log = logging.getLogger("ctr.operator")
MANAGED = {"app.kubernetes.io/managed-by": "ctr-operator"}
INSTANCE_LABEL = "app.kubernetes.io/instance"


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Connect, keep kopf's bookkeeping in annotations, start the resync loop."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=crd.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=crd.GROUP, key="last-handled-configuration"
    )
    settings.posting.enabled = False
    settings.scanning.disabled = True
    load_kubernetes_config()
    memo.api = client.ApiClient()
    memo.resync = asyncio.create_task(resync_forever(memo))


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    """Stop the resync loop."""
    memo.resync.cancel()


@kopf.on.resume(crd.GROUP, crd.VERSION, crd.PLURAL)
@kopf.on.create(crd.GROUP, crd.VERSION, crd.PLURAL)
@kopf.on.update(crd.GROUP, crd.VERSION, crd.PLURAL)
async def producer_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Reconcile a Producer whose spec is new or changed, or that the operator finds on start."""
    await _reconcile(memo, dict(body))


async def _reconcile(memo: kopf.Memo, producer: dict[str, Any]) -> None:
    """Reconcile one Producer. An object that is gone (404: the Producer deleted meanwhile, or one of
    its objects not created yet) is a normal state for a level-based reconciler: the next trigger
    sees the new state."""
    try:
        await asyncio.to_thread(reconcile, memo.api, producer, memo.config)
    except ApiException as err:
        if err.status != 404:
            raise
        meta = producer["metadata"]
        log.debug(
            "%s/%s: an object is gone meanwhile (%s); it is reconciled again on the next change",
            meta["namespace"],
            meta["name"],
            err.reason,
        )


async def _custom_objects(call: Callable[..., object], *args: Any) -> dict[str, Any]:
    """The JSON object a ``CustomObjectsApi`` call answers (its client types it as any object)."""
    return cast(dict[str, Any], await asyncio.to_thread(call, *args))


async def _reconcile_by_name(memo: kopf.Memo, namespace: str, name: str) -> None:
    try:
        producer = await _custom_objects(
            client.CustomObjectsApi(memo.api).get_namespaced_custom_object,
            crd.GROUP,
            crd.VERSION,
            namespace,
            crd.PLURAL,
            name,
        )
    except ApiException as err:
        if err.status == 404:
            return
        raise
    if not producer["metadata"].get("deletionTimestamp"):
        await _reconcile(memo, producer)


@kopf.on.event("apps", "v1", "deployments", labels=MANAGED)
@kopf.on.event("", "v1", "configmaps", labels=MANAGED)
async def owned_object_changed(meta: kopf.Meta, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Repair drift at once: a managed object changed or vanished, so its Producer is reconciled."""
    owner = meta.get("labels", {}).get(INSTANCE_LABEL)
    if owner and namespace:
        await _reconcile_by_name(memo, namespace, owner)


async def resync_forever(memo: kopf.Memo) -> None:
    """Reconcile every Producer every resync interval (status refresh, and a safety net for drift)."""
    interval, namespaces = memo.config.resync_interval, memo.namespaces
    objects = client.CustomObjectsApi(memo.api)
    while True:
        await asyncio.sleep(interval)
        try:
            if namespaces:
                found = [
                    item
                    for ns in namespaces
                    for item in (
                        await _custom_objects(
                            objects.list_namespaced_custom_object, crd.GROUP, crd.VERSION, ns, crd.PLURAL
                        )
                    )["items"]
                ]
            else:
                found = (
                    await _custom_objects(
                        objects.list_cluster_custom_object, crd.GROUP, crd.VERSION, crd.PLURAL
                    )
                )["items"]
            for producer in found:
                await _reconcile_by_name(
                    memo, producer["metadata"]["namespace"], producer["metadata"]["name"]
                )
        except (ApiException, OSError) as err:
            log.warning("resync failed: %s; trying again in %gs", err, interval)
