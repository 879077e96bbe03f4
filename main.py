"""镇街人社指标填报系统: `python main.py` opens the app; `python main.py --help` lists the commands."""

import sys
import warnings

if __name__ != "__main__":
    # A verification worker started with `spawn` (Windows) imports this file as __mp_main__: it has no
    # log to keep a library's deprecation warning in, and the clerk's console must not show it.
    warnings.simplefilter("ignore")

if __name__ == "__main__":
    if getattr(sys, "frozen", False):
        # A frozen Windows build starts its verification workers by running this executable again.
        import multiprocessing

        warnings.simplefilter("ignore")  # the worker prints nothing of its own; the app logs warnings (cli)
        multiprocessing.freeze_support()
    from cli import main

    sys.exit(main())
