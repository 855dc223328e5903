"""The console script's entry point stays a function whatever was imported before it."""

import importlib


def test_cli_main_is_the_entry_function_after_the_commands_are_imported():
    importlib.import_module("descriptors.cli.app")  # what any command run imports
    from descriptors.cli import main

    assert callable(main) and main.__module__ == "descriptors.cli"
    assert main(["list", "calculators"]) == 0  # runs, not "module object is not callable"
