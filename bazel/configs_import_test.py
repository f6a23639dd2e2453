"""Under Bazel the paper configs (train/) import as dpzoo.train, as setup.py's package_dir maps
them: every module of dpzoo.train imports, from the runfiles tree (the root BUILD's :configs)."""

import os
import pkgutil
import sys
import unittest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dpzoo.train  # noqa: E402


class ConfigsImportTest(unittest.TestCase):
    def test_every_config_module_imports_from_runfiles(self):
        runfiles = os.environ["TEST_SRCDIR"] + os.sep
        names = [info.name for info in pkgutil.walk_packages(dpzoo.train.__path__, "dpzoo.train.")]
        self.assertGreater(len(names), 50)
        for name in names:
            __import__(name)
        outside = [
            name
            for name, module in sys.modules.items()
            if name.split(".")[0] == "dpzoo"
            and getattr(module, "__file__", None)
            and not os.path.abspath(module.__file__).startswith(runfiles)
        ]
        self.assertEqual(outside, [])


if __name__ == "__main__":
    unittest.main()
