import sys

from evotrans.cli import main

sys.exit(main())
