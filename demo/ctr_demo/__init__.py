"""``ctr demo``: the whole pipeline on one machine, the composition root of the broker, the producer,
the job and the results reader."""
