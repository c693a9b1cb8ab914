import multiprocessing
import sys

from cxrviewer.cli import main

# The training dialog runs training in a spawned process; a frozen (PyInstaller) program must
# recognise that child start-up before anything else runs.
multiprocessing.freeze_support()
sys.exit(main())
