from devhost.host import main

raise SystemExit(main())
