import sys

from stacks.tour import main

sys.exit(main())
