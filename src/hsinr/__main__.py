from hsinr.cli import main

raise SystemExit(main())
