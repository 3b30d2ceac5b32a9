from hvo_verify.cli import main

raise SystemExit(main())
