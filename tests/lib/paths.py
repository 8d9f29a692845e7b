"""Where the build puts things; ZK_BUILD_DIR selects another build (e.g. the sanitizer one)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("ZK_BUILD_DIR", os.path.join(ROOT, "build"))
BUILD_BIN = os.path.join(BUILD_DIR, "bin")
