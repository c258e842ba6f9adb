"""The versioned store: publish a build as an immutable version, read it back, verify, views, push.

Layout: `<root>/<dataset>/<version>/{data, rejects, views, manifest.json, README.md, report.html}`
and `<root>/<dataset>/LATEST`. See publish.py for how a version becomes visible atomically.
"""

from pipeline.store.layout import SCHEMA_VERSION, StoreError, VersionRef
from pipeline.store.publish import publish_version
from pipeline.store.versions import StoredVersion, gc_versions, read_version, used_doc_ids, verify_version

__all__ = ["SCHEMA_VERSION", "StoreError", "StoredVersion", "VersionRef", "gc_versions", "publish_version",
           "read_version", "used_doc_ids", "verify_version"]
