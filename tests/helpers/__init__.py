"""What the tests share; test modules import from here (or use conftest.py's fixtures), never from each
other (tests/test_style.py holds that).

- ``processes``: run ``ctr`` as users do (a process), collect its output, wait, stop it, kill its JVMs.
- ``cli``: run ``ctr``'s main in this process, for argument checks and ``--help``.
- ``kafka``: fresh topics on a broker, and what a topic holds.
- ``events``: seeded event sets with CTR's hard cases, put on the broker.
- ``commands``: the arguments of ``ctr produce``, ``ctr job`` and ``ctr results --topic`` for a test.
- ``producer``: the producer's summary and progress lines, and its live settings file.
- ``results``: CTR rows compared, read from JSON, read from the results topic.
- ``job_runs``: a job run waited for and stopped; the shared run that publishes its results.
- ``helm``, ``schemas``: the helm binary and the chart rendered; CRD schemas applied strictly.
- ``kubernetes``: an emulated Kubernetes API (kmock) and ``ctr operator`` against it.
- ``prometheus``: scrapes, a real Prometheus server, the chart's rules and the dashboard's queries.
- ``figures``: measured figures, printed at the end of the run.
"""
