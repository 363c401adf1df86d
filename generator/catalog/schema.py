"""The catalog's schema, as an ordered list of migrations.

Each migration is a list of statements in the SQL common to SQLite and PostgreSQL
(``INTEGER`` keys, ``TEXT`` timestamps in the sortable ISO form of ``clock``), so that a
PostgreSQL backend can run the same list. The schema version is the number of migrations
applied, kept in the ``schema_version`` table; ``migrate`` applies the missing ones in one
transaction each.

Design notes:
- ``projects`` are per source: the same name may exist in several sources, and a
  repository resolves which one owns it by subscription order (DESIGN.md).
- ``files`` rows are never deleted: removal sets ``removed_at`` (a filename is forever,
  and snapshots of earlier days still list the file).
- ``events`` is append-only. Every change to files and subscriptions is an event with its
  UTC time, so the state of a repository at the end of any past day can be replayed;
  its ``id`` is also the serial that incremental generation uses as a watermark.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            upstream TEXT,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE repos (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            description TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE subscriptions (
            repo_id INTEGER NOT NULL REFERENCES repos(id),
            source_id INTEGER NOT NULL REFERENCES sources(id),
            position INTEGER NOT NULL,
            PRIMARY KEY (repo_id, source_id)
        )""",
        """CREATE TABLE projects (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            name TEXT NOT NULL,
            display_name TEXT NOT NULL,
            summary TEXT NOT NULL,
            last_event_id INTEGER NOT NULL,
            UNIQUE (source_id, name)
        )""",
        "CREATE INDEX projects_by_name ON projects (name)",
        """CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES projects(id),
            filename TEXT NOT NULL,
            version TEXT NOT NULL,
            packagetype TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            blake2_256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            requires_python TEXT,
            upload_time TEXT NOT NULL,
            metadata_sha256 TEXT,
            has_signature INTEGER NOT NULL,
            yanked INTEGER NOT NULL,
            yanked_reason TEXT NOT NULL,
            removed_at TEXT,
            UNIQUE (project_id, filename)
        )""",
        "CREATE INDEX files_by_sha256 ON files (sha256)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            repo_id INTEGER,
            source_id INTEGER,
            project_id INTEGER,
            file_id INTEGER,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX events_by_project ON events (project_id, id)",
        "CREATE INDEX events_by_repo ON events (repo_id, id)",
        """CREATE TABLE generation_state (
            repo_id INTEGER PRIMARY KEY REFERENCES repos(id),
            last_event_id INTEGER NOT NULL,
            render_version TEXT NOT NULL
        )""",
        """CREATE TABLE site_projects (
            repo_id INTEGER NOT NULL REFERENCES repos(id),
            name TEXT NOT NULL,
            display_name TEXT NOT NULL,
            PRIMARY KEY (repo_id, name)
        )""",
    ),
    # 2: API tokens. The token itself is never stored: only what identifies and limits it.
    (
        """CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            description TEXT NOT NULL,
            sources TEXT NOT NULL,
            scopes TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            last_used_at TEXT,
            revoked_at TEXT
        )""",
    ),
    # 3: find a file by name without visiting every project of its source. Ingest, the
    # mirror and batch imports look a filename up before each insert ("a file name is
    # forever"); without this index each lookup scanned all the source's projects, which
    # made a 1M-file import quadratic.
    ("CREATE INDEX files_by_filename ON files (filename)",),
    # 4: what dated snapshots replay. Each file keeps when it entered its source
    # (``added_at``), when it was signed, and the display name its metadata gave, so the
    # state at the end of any day is a query, not a guess; yanks are read back from the
    # events of each file; ``snapshots`` records the days written to the output, with the
    # render version that wrote them (a later template change never rewrites a day).
    (
        "ALTER TABLE files ADD COLUMN added_at TEXT",
        "ALTER TABLE files ADD COLUMN signed_at TEXT",
        "ALTER TABLE files ADD COLUMN display_name TEXT",
        # Indexed before the backfill below looks each file's events up: without it every
        # file scanned the whole event log (22 minutes for 100k files, quadratic).
        "CREATE INDEX events_by_file ON events (file_id, id)",
        """UPDATE files SET added_at = (
            SELECT MIN(e.at) FROM events e WHERE e.file_id = files.id AND e.kind = 'file_added'
        )""",
        "UPDATE files SET added_at = upload_time WHERE added_at IS NULL",
        """UPDATE files SET signed_at = COALESCE(
            (SELECT MIN(e.at) FROM events e WHERE e.file_id = files.id AND e.kind = 'file_signed'),
            added_at
        ) WHERE has_signature = 1""",
        """UPDATE files SET display_name = (
            SELECT p.display_name FROM projects p WHERE p.id = files.project_id
        )""",
        """CREATE TABLE snapshots (
            repo_id INTEGER NOT NULL REFERENCES repos(id),
            day TEXT NOT NULL,
            render_version TEXT NOT NULL,
            written_at TEXT NOT NULL,
            reconstructed INTEGER NOT NULL,
            PRIMARY KEY (repo_id, day)
        )""",
    ),
    # 5: mirrors. A mirrored file keeps its upstream URL (fetched on first request in
    # lazy mode) and two times: ``added_at`` is when it counts from (the upstream upload
    # time when its project was first synced: history backfill) and ``recorded_at`` when
    # the catalog learnt of it; observed snapshot days use both, reconstructed days (before
    # a repository existed) only ``added_at``. ``mirror_sources`` is the per-source
    # watermark, advanced only after an error-free pass; ``mirror_projects`` the
    # validators (serial, ETag, Last-Modified) of each upstream project;
    # ``curated_lists`` every list `timeshelf update` set, with its resolved closure.
    (
        "ALTER TABLE files ADD COLUMN url TEXT",
        "ALTER TABLE files ADD COLUMN recorded_at TEXT",
        "UPDATE files SET recorded_at = added_at",
        "CREATE INDEX files_by_added_at ON files (added_at)",
        """CREATE TABLE mirror_sources (
            source_id INTEGER PRIMARY KEY REFERENCES sources(id),
            root_etag TEXT,
            root_last_modified TEXT,
            serial INTEGER,
            filters TEXT NOT NULL,
            synced_at TEXT,
            last_run_at TEXT,
            last_run_errors INTEGER NOT NULL
        )""",
        """CREATE TABLE mirror_projects (
            source_id INTEGER NOT NULL REFERENCES sources(id),
            name TEXT NOT NULL,
            serial INTEGER,
            etag TEXT,
            last_modified TEXT,
            gone INTEGER NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (source_id, name)
        )""",
        """CREATE TABLE curated_lists (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            requirements TEXT NOT NULL,
            closure INTEGER NOT NULL,
            python_versions TEXT NOT NULL,
            compiled TEXT NOT NULL,
            tool TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
    ),
    # 6: find the events of one day without reading the whole log. Materializing a
    # snapshot day asks which projects had events in that day (``changed_between``);
    # without this index every new day scanned every event ever recorded.
    ("CREATE INDEX events_by_at ON events (at)",),
    # PEP 792 project status (generator.catalog.status): every change of a project's
    # status, appended (the state at any instant is the last row before it), beside its
    # ``project_status`` event, with who set it (``admin``: `timeshelf status`;
    # ``upstream``: a mirror's sync). A small table of its own, so a replay reads it whole
    # instead of filtering the event log by kind.
    (
        """CREATE TABLE project_statuses (
            id INTEGER PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES projects(id),
            at TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            origin TEXT NOT NULL
        )""",
        "CREATE INDEX project_statuses_by_project ON project_statuses (project_id, at)",
    ),
    # Vulnerability advisories (OSV, `timeshelf vulns sync`). Advisories are not events:
    # they change the web UI and policy, never what a repository lists, so they stand
    # beside the event log. ``advisories`` is one row per OSV id (JSON lists for aliases
    # and severity), ``advisory_packages`` each affected PyPI project with its ranges and
    # versions (JSON), found by project name; ``advisory_feeds`` the validators (ETag,
    # Last-Modified) of the export last read completely.
    (
        """CREATE TABLE advisories (
            id TEXT PRIMARY KEY,
            modified TEXT NOT NULL,
            withdrawn TEXT,
            aliases TEXT NOT NULL,
            summary TEXT NOT NULL,
            severity TEXT NOT NULL,
            level TEXT NOT NULL,
            imported_at TEXT NOT NULL
        )""",
        """CREATE TABLE advisory_packages (
            advisory_id TEXT NOT NULL REFERENCES advisories(id),
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            ranges TEXT NOT NULL,
            versions TEXT NOT NULL,
            PRIMARY KEY (advisory_id, position)
        )""",
        "CREATE INDEX advisory_packages_by_name ON advisory_packages (name)",
        """CREATE TABLE advisory_feeds (
            url TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            synced_at TEXT NOT NULL
        )""",
    ),
    # Cooldown repositories (``cooldown.Cooldowns``): a repository's current cooldown and
    # the instant up to which files coming of age have been written to the event log
    # (``scanned_until``: the next generation looks only past it, by the upload-time
    # index); the allowances that let a release in early, with who, why and when. The
    # history of both is in the event log (``cooldown_*`` events), which dated days replay.
    (
        """CREATE TABLE cooldown_settings (
            repo_id INTEGER PRIMARY KEY REFERENCES repos(id),
            seconds INTEGER NOT NULL,
            exempt TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            scanned_until TEXT NOT NULL
        )""",
        """CREATE TABLE cooldown_allowances (
            id INTEGER PRIMARY KEY,
            repo_id INTEGER NOT NULL REFERENCES repos(id),
            project TEXT NOT NULL,
            version TEXT,
            reason TEXT NOT NULL,
            allowed_by TEXT NOT NULL,
            allowed_at TEXT NOT NULL,
            revoked_at TEXT,
            revoked_by TEXT
        )""",
        "CREATE INDEX cooldown_allowances_by_repo ON cooldown_allowances (repo_id, project)",
        "CREATE INDEX files_by_upload_time ON files (upload_time)",
    ),
    # Blocklist rules (generator.catalog.rules): each rule with the instants it came into
    # and went out of force (a replay keeps the rules in force just before its instant),
    # its conditions as JSON; beside each creation and deletion a ``blocklist_rule``
    # event per repository it scopes. ``file_licenses`` is the license each stored file's
    # core metadata declares (by content hash; NULL: none declared), learned once.
    (
        """CREATE TABLE blocklist_rules (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            deleted_at TEXT,
            conditions TEXT NOT NULL,
            description TEXT NOT NULL
        )""",
        """CREATE TABLE file_licenses (
            sha256 TEXT PRIMARY KEY,
            license TEXT
        )""",
    ),
    # The Simple formats in force over time (generator.catalog.formats): a dated day is
    # rendered in the format of its end, so a day keeps its bytes across a format change
    # (RENDER_VERSION 2 added the PEP 792 status at API 1.4). A catalog that existed
    # before this table (it has repositories, files or generation state) rendered format
    # 1 from the start; a new one gets its format at its first generation.
    (
        """CREATE TABLE render_formats (
            id INTEGER PRIMARY KEY,
            version TEXT NOT NULL,
            since TEXT NOT NULL
        )""",
        """INSERT INTO render_formats (version, since)
            SELECT '1', '1970-01-01T00:00:00.000000Z'
            WHERE EXISTS (SELECT 1 FROM repos) OR EXISTS (SELECT 1 FROM files)
               OR EXISTS (SELECT 1 FROM generation_state)""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
