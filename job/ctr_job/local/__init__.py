"""``ctr job``'s local Flink cluster of processes: the command (``launcher``) and the cluster it runs
(``cluster``), started as the Flink Kubernetes Operator starts the FlinkDeployment."""
