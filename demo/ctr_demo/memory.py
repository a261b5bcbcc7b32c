"""The resident memory of a process and all its descendants, as psutil reads it."""


def tree_rss(pid: int) -> int | None:
    """Bytes resident in ``pid`` and its descendants now; None where ``pid`` cannot be read."""
    # psutil comes with the job extra, like pyflink: every image's `ctr` imports this module, not all have it.
    import psutil

    try:
        process = psutil.Process(pid)
        tree = [process, *process.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for member in tree:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total
