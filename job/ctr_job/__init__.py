"""The CTR job (Flink SQL, driven from PyFlink), the one-machine demo and the results reader."""
