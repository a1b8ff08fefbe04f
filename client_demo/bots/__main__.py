import sys

from client_demo.bots.cli import main

sys.exit(main())
