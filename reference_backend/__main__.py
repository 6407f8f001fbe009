from reference_backend.cli import main

raise SystemExit(main())
