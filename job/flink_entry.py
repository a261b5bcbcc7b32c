"""Entry point of the job inside the Flink image: the FlinkDeployment runs it with PythonDriver ``-py``.

It takes ``ctr job``'s flags; the job image copies this file to /opt/ctr/flink_entry.py.
"""

import sys

from ctr.cli import main

if __name__ == "__main__":
    sys.exit(main(["job", *sys.argv[1:]]))
