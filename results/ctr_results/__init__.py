"""``ctr results``: the committed CTR rows, read from the job's CSV files or from the results topic."""
