"""镇街人社指标填报系统: `python main.py` opens the app; `python main.py --help` lists the commands."""

import sys

if __name__ == "__main__":
    if getattr(sys, "frozen", False):
        # A frozen Windows build starts its verification workers by running this executable again.
        import multiprocessing

        multiprocessing.freeze_support()
    from cli import main

    sys.exit(main())
