BEGIN TRANSACTION;
CREATE TABLE curated_lists (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            requirements TEXT NOT NULL,
            closure INTEGER NOT NULL,
            python_versions TEXT NOT NULL,
            compiled TEXT NOT NULL,
            tool TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            repo_id INTEGER,
            source_id INTEGER,
            project_id INTEGER,
            file_id INTEGER,
            detail TEXT NOT NULL
        );
INSERT INTO "events" VALUES(1,'2026-03-01T09:00:00.000000Z','subscriptions_changed',1,NULL,NULL,NULL,'{"sources":["local"]}');
INSERT INTO "events" VALUES(2,'2026-03-01T10:00:00.000000Z','file_added',NULL,1,1,1,'{"filename":"tempo-1.0-py3-none-any.whl"}');
INSERT INTO "events" VALUES(3,'2026-03-01T10:00:00.000000Z','file_added',NULL,1,2,2,'{"filename":"other-1.0-py3-none-any.whl"}');
INSERT INTO "events" VALUES(4,'2026-03-02T10:00:00.000000Z','file_added',NULL,1,1,3,'{"filename":"tempo-2.0.tar.gz"}');
INSERT INTO "events" VALUES(5,'2026-03-02T11:00:00.000000Z','file_yanked',NULL,1,1,1,'{"filename":"tempo-1.0-py3-none-any.whl","reason":"bad \"build\" & <more>"}');
CREATE TABLE files (
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
            removed_at TEXT, added_at TEXT, signed_at TEXT, display_name TEXT, url TEXT, recorded_at TEXT,
            UNIQUE (project_id, filename)
        );
INSERT INTO "files" VALUES(1,1,'tempo-1.0-py3-none-any.whl','1.0','bdist_wheel','336b4b6ae833281ed049bef8ca3592c5d9a5d8b0691265273387cdeaa5f37303','a90048434574ee8da2f7e8116b0314dff7b2eca62f3a2de06581a42562fcdc86',890,NULL,'2026-03-01T10:00:00.000000Z','b1c749091c5fb0ab0aab570f7db3b7deb1d030c4bb12d2f9e08935024d4d05a3',0,1,'bad "build" & <more>',NULL,'2026-03-01T10:00:00.000000Z',NULL,'tempo',NULL,'2026-03-01T10:00:00.000000Z');
INSERT INTO "files" VALUES(2,2,'other-1.0-py3-none-any.whl','1.0','bdist_wheel','5edc005e27975d883f43163b17ab6d50c641b62ae7a7ed52ca1f9e94c1086d44','dba89e22e9481f02d619f0a6c034aeeb084f4698f878299d553a79f11e3cb66e',894,NULL,'2026-03-01T10:00:00.000000Z','ac05dee702ca975e18d7d9da32379c43ed35fdfe3afdb64b059ad3d6d0e7984d',0,0,'',NULL,'2026-03-01T10:00:00.000000Z',NULL,'other',NULL,'2026-03-01T10:00:00.000000Z');
INSERT INTO "files" VALUES(3,1,'tempo-2.0.tar.gz','2.0','sdist','9f0c7027bb24ba016be5d17e44a5b9bf3bd515372be76b83040b739a4980c8b8','4588c952c9ec4d3778031200e15d47ba5f78d36058de61f86fc876b7c95a9691',249,NULL,'2026-03-02T10:00:00.000000Z',NULL,0,0,'',NULL,'2026-03-02T10:00:00.000000Z',NULL,'tempo',NULL,'2026-03-02T10:00:00.000000Z');
CREATE TABLE generation_state (
            repo_id INTEGER PRIMARY KEY REFERENCES repos(id),
            last_event_id INTEGER NOT NULL,
            render_version TEXT NOT NULL
        );
INSERT INTO "generation_state" VALUES(1,5,'1');
CREATE TABLE mirror_projects (
            source_id INTEGER NOT NULL REFERENCES sources(id),
            name TEXT NOT NULL,
            serial INTEGER,
            etag TEXT,
            last_modified TEXT,
            gone INTEGER NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (source_id, name)
        );
CREATE TABLE mirror_sources (
            source_id INTEGER PRIMARY KEY REFERENCES sources(id),
            root_etag TEXT,
            root_last_modified TEXT,
            serial INTEGER,
            filters TEXT NOT NULL,
            synced_at TEXT,
            last_run_at TEXT,
            last_run_errors INTEGER NOT NULL
        );
CREATE TABLE projects (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            name TEXT NOT NULL,
            display_name TEXT NOT NULL,
            summary TEXT NOT NULL,
            last_event_id INTEGER NOT NULL,
            UNIQUE (source_id, name)
        );
INSERT INTO "projects" VALUES(1,1,'tempo','tempo','A test package',5);
INSERT INTO "projects" VALUES(2,1,'other','other','A test package',3);
CREATE TABLE repos (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            description TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
INSERT INTO "repos" VALUES(1,'python','python','Packages uploaded here','2026-03-01T09:00:00.000000Z');
CREATE TABLE schema_version (version INTEGER);
INSERT INTO "schema_version" VALUES(6);
CREATE TABLE site_projects (
            repo_id INTEGER NOT NULL REFERENCES repos(id),
            name TEXT NOT NULL,
            display_name TEXT NOT NULL,
            PRIMARY KEY (repo_id, name)
        );
INSERT INTO "site_projects" VALUES(1,'other','other');
INSERT INTO "site_projects" VALUES(1,'tempo','tempo');
CREATE TABLE snapshots (
            repo_id INTEGER NOT NULL REFERENCES repos(id),
            day TEXT NOT NULL,
            render_version TEXT NOT NULL,
            written_at TEXT NOT NULL,
            reconstructed INTEGER NOT NULL,
            PRIMARY KEY (repo_id, day)
        );
INSERT INTO "snapshots" VALUES(1,'2026-03-01','1','2026-03-02T10:00:00.000000Z',0);
INSERT INTO "snapshots" VALUES(1,'2026-03-02','1','2026-03-03T10:00:00.000000Z',0);
CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            upstream TEXT,
            created_at TEXT NOT NULL
        );
INSERT INTO "sources" VALUES(1,'local','local-python',NULL,'2026-03-01T09:00:00.000000Z');
CREATE TABLE subscriptions (
            repo_id INTEGER NOT NULL REFERENCES repos(id),
            source_id INTEGER NOT NULL REFERENCES sources(id),
            position INTEGER NOT NULL,
            PRIMARY KEY (repo_id, source_id)
        );
INSERT INTO "subscriptions" VALUES(1,1,0);
CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            description TEXT NOT NULL,
            sources TEXT NOT NULL,
            scopes TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            last_used_at TEXT,
            revoked_at TEXT
        );
CREATE INDEX projects_by_name ON projects (name);
CREATE INDEX files_by_sha256 ON files (sha256);
CREATE INDEX events_by_project ON events (project_id, id);
CREATE INDEX events_by_repo ON events (repo_id, id);
CREATE INDEX files_by_filename ON files (filename);
CREATE INDEX events_by_file ON events (file_id, id);
CREATE INDEX files_by_added_at ON files (added_at);
CREATE INDEX events_by_at ON events (at);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('events',5);
COMMIT;
