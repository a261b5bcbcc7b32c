"""The CTR job: Flink SQL and the Java ClickFlags operator, driven from PyFlink; ``ctr job`` runs it on a
local Flink cluster."""
