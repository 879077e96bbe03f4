"""镇街人社指标填报系统: `python main.py` opens the app; `python main.py --help` lists the commands."""

import sys

from cli import main

if __name__ == "__main__":
    sys.exit(main())
