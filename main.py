"""镇街人社指标填报系统: `python main.py` opens the app; `python main.py --help` lists the commands."""

import multiprocessing
import sys

if __name__ == "__main__":
    # A frozen Windows build starts its verification workers by running this executable again.
    multiprocessing.freeze_support()
    from cli import main

    sys.exit(main())
