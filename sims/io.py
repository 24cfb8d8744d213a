"""The toolkit's atomic writers live in the torch-free layer: :mod:`curriculum.io` (re-exported here)."""
from curriculum.io import (atomic_path, atomic_savefig, atomic_write_bytes, atomic_write_json,  # noqa: F401
                           atomic_write_parquet, atomic_write_text, ensure_writable_dir, umask_mode)
from curriculum.io import __all__  # noqa: F401
