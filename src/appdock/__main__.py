import sys


def _run() -> None:
    # git runs the post-receive hook on every push: skip the CLI's imports (Typer, the account
    # domain) and go straight to the hook.
    if sys.argv[1:3] == ["hook", "post-receive"]:
        from appdock.repo.hook import main as hook_main
        from appdock.subscribers import register

        register()
        raise SystemExit(hook_main())
    from appdock.cli.main import main

    main()


if __name__ == "__main__":
    _run()
