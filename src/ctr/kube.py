"""Connecting to Kubernetes the one way ctr does: the pod's service account, else the current kube context."""


def load_kubernetes_config() -> None:
    """Configure the kubernetes client: in-cluster in a pod, else from KUBECONFIG / ~/.kube/config."""
    from kubernetes import config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
