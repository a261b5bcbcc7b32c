"""Live settings from a Kubernetes ConfigMap, watched through the API (no volume, no pod restart)."""

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ctr.config_map import CONFIG_KEY
from ctr.kube import load_kubernetes_config
from ctr_producer.config_source import OnChange, OnError, parse_settings_text

if TYPE_CHECKING:
    from kubernetes.watch import Watch

log = logging.getLogger("ctr.produce.config")
WATCH_TIMEOUT_SECONDS = 60
RETRY_SECONDS = 2.0
POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def pod_namespace() -> str:
    """The namespace this pod runs in (``default`` outside a cluster)."""
    return POD_NAMESPACE_FILE.read_text().strip() if POD_NAMESPACE_FILE.is_file() else "default"


class ConfigMapConfigSource:
    """Watches one ConfigMap's ``settings.yaml`` key; every change is reported within a second."""

    def __init__(self, name: str, namespace: str | None = None, api_client: object = None) -> None:
        self.name = name
        self.namespace = namespace or pod_namespace()
        self._api_client = api_client
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: str | None = None
        self._watcher: Watch | None = None

    def start(self, on_change: OnChange, on_error: OnError) -> None:
        """Report the ConfigMap's settings now (if it exists) and after every change."""
        from kubernetes import client

        if self._api_client is None:
            load_kubernetes_config()
        self._api = client.CoreV1Api(self._api_client)
        self._thread = threading.Thread(
            target=self._watch, args=(on_change, on_error), name="config-map", daemon=True
        )
        self._thread.start()

    def _report(self, config_map: object, on_change: OnChange, on_error: OnError) -> None:
        if getattr(getattr(config_map, "metadata", None), "name", None) != self.name:
            return
        text = (getattr(config_map, "data", None) or {}).get(CONFIG_KEY, "")
        if text == self._last:
            return
        self._last = text
        try:
            document = parse_settings_text(text, f"config map {self.namespace}/{self.name} key {CONFIG_KEY}")
        except ValueError as err:
            on_error(str(err))
            return
        on_change(document)

    def _watch(self, on_change: OnChange, on_error: OnError) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        selector = f"metadata.name={self.name}"
        while not self._stopped.is_set():
            try:
                listing = self._api.list_namespaced_config_map(self.namespace, field_selector=selector)
                for item in listing.items:
                    self._report(item, on_change, on_error)
                self._watcher = watch.Watch()
                for event in self._watcher.stream(
                    self._api.list_namespaced_config_map,
                    self.namespace,
                    field_selector=selector,
                    resource_version=listing.metadata.resource_version if listing.metadata else None,
                    timeout_seconds=WATCH_TIMEOUT_SECONDS,
                ):
                    if self._stopped.is_set():
                        break
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._report(event["object"], on_change, on_error)
            except (ApiException, OSError, ValueError) as err:
                if not self._stopped.is_set():
                    log.warning("watching config map %s/%s: %s; retrying", self.namespace, self.name, err)
                    self._stopped.wait(RETRY_SECONDS)

    def reload(self) -> None:
        """Nothing to do: the watch already delivers every change."""

    def stop(self) -> None:
        """Stop watching."""
        self._stopped.set()
        if self._watcher is not None:
            self._watcher.stop()
