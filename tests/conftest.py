pytest_plugins = ["tests.broker"]
