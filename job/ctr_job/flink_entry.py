"""Entry point of the job inside the Flink image: the FlinkDeployment runs it with PythonDriver ``-py``.

It takes ``ctr job``'s flags and runs the job's own ``main``; the job image copies this file to
/opt/ctr/flink_entry.py.
"""

import sys

from ctr_job.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
